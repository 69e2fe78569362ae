import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';

import {
	CompletionWaiter,
	cancelOnServer,
	fetchHistoryEntry,
	queuePosition,
	settleFromHistory,
	type CancelOutcome,
	type CompletionResult,
	type WaitOptions,
} from './completion';
import { ValidationError } from '../errors';
import { toComfyServerConfig, type ComfyServerConfig, type ComfyServerConfigInput } from './config';
import { getServerConnection, type RawQueue, type ServerConnection } from './connection';
import { ComfyUiError, parseNodeErrors, validationError, workflowClassTypes, type ComfyNodeError } from './errors';
import { readText, type RawResponse } from './http';
import { mimeTypeFor, type HistoryEntry } from './outputs';
import type { TrackedPrompt } from './prompts';
import { ensureApiWorkflow, withRunFilenamePrefix, type ApiWorkflow } from './workflow';

export interface SubmitOptions {
	/** Default: a fresh UUID. Never reuse one: ComfyUI does not check uniqueness. */
	promptId?: string;
	/** Merged into extra_data (e.g. extra_pnginfo); client_id and the Comfy.org key are added by the client. */
	extraData?: Record<string, unknown>;
	/** Put the prompt at the front of the queue. */
	front?: boolean;
	signal?: AbortSignal;
	/** Retries of a 503 answer to POST /prompt (default 2). The pool passes 0 and tries another server. */
	unavailableRetries?: number;
	/** Internal: the folder run() rewrote filename prefixes to. */
	runFolder?: string;
}

export interface SubmitResult {
	promptId: string;
	/** ComfyUI's queue number (its priority; lower runs first). */
	number: number;
	server: string;
	clientId: string;
	submittedAt: number;
	/** Output nodes ComfyUI dropped at validation while it queued the rest (200 with node_errors). */
	warnings: ComfyNodeError[];
	/** false when the WebSocket could not be opened: the wait relies on /history polling. */
	websocket: boolean;
}

export interface RunOptions extends Omit<SubmitOptions, 'runFolder'>, WaitOptions {
	/** Rewrite save nodes' filename_prefix to promptlab/<promptId>/... (default true). */
	uniquePrefix?: boolean;
}

export interface DownloadableFile {
	filename: string;
	subfolder?: string;
	type?: string;
	mimeType?: string;
}

export interface DownloadOptions {
	signal?: AbortSignal;
	/** ComfyUI re-encodes to a preview (`webp;90`, `jpeg;80`) instead of sending the original. */
	preview?: string;
}

export interface DownloadedFile {
	/** The response body: read it (or destroy it) to release the connection. Never buffered by the client. */
	stream: Readable;
	mimeType: string;
	/** From Content-Length, when the server sent it. */
	bytes?: number;
	filename: string;
}

export interface UploadImageOptions {
	overwrite?: boolean;
	subfolder?: string;
	type?: 'input' | 'temp' | 'output';
	mimeType?: string;
	signal?: AbortSignal;
}

export interface UploadedImage {
	name: string;
	subfolder: string;
	type: string;
	/** The value for LoadImage's `image` input: `sub/name.png`, with ` [output]`/` [temp]` outside input/. */
	reference: string;
}

export interface QueueItem {
	number: number;
	promptId: string;
	clientId?: string;
	/** Output node ids ComfyUI will execute. */
	outputNodeIds: string[];
	createdAt?: number;
}

export interface QueueStatus {
	running: QueueItem[];
	/** Sorted by run order (ComfyUI sends its heap unsorted). */
	pending: QueueItem[];
	/** pending + running, as ComfyUI counts queue_remaining */
	remaining: number;
}

export type PromptLookup =
	| { state: 'pending'; position: number }
	| { state: 'running' }
	| { state: 'success'; result: CompletionResult }
	| { state: 'failed'; error: ComfyUiError }
	| { state: 'unknown' };

export interface SystemStats {
	system?: Record<string, unknown> & { comfyui_version?: string };
	devices?: Array<Record<string, unknown>>;
}

export interface ConnectionTestResult {
	ok: boolean;
	message: string;
	server: string;
	comfyuiVersion?: string;
	device?: string;
	/** The WebSocket (progress + fast completion) could be opened too. */
	websocket?: boolean;
	error?: ComfyUiError;
}

export type NodeInfo = Record<string, unknown> & {
	input?: { required?: Record<string, unknown>; optional?: Record<string, unknown> };
};

const UNAVAILABLE_RETRY_DELAYS_MS = [250, 1_000];

function delay(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) {
			reject(signal.reason);
			return;
		}
		const onAbort = () => {
			clearTimeout(timer);
			reject(signal?.reason);
		};
		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve();
		}, ms);
		timer.unref();
		signal?.addEventListener('abort', onAbort, { once: true });
	});
}

function sanitizeExtraData(extra: unknown): Record<string, unknown> | undefined {
	if (!extra || typeof extra !== 'object') return undefined;
	// Servers before #10502 show the Comfy.org key in /queue: never hand it on.
	const { api_key_comfy_org: _key, auth_token_comfy_org: _token, ...rest } = extra as Record<string, unknown>;
	return rest;
}

function toQueueItem(tuple: unknown): QueueItem | undefined {
	if (!Array.isArray(tuple) || tuple.length < 2) return undefined;
	const extra = sanitizeExtraData(tuple[3]);
	return {
		number: Number(tuple[0]),
		promptId: String(tuple[1]),
		clientId: typeof extra?.client_id === 'string' ? extra.client_id : undefined,
		outputNodeIds: Array.isArray(tuple[4]) ? tuple[4].map(String) : [],
		createdAt: typeof extra?.create_time === 'number' ? extra.create_time : undefined,
	};
}

/** A `Content-Disposition` filename value: quotes and line breaks would end the header field. */
function headerFilename(name: string): string {
	return name.replace(/[\r\n]/g, '').replace(/"/g, '%22');
}

/**
 * Client for one ComfyUI server. Cheap to create (one per n8n execution is fine): the HTTP
 * agent, the WebSocket and the in-flight prompt registry are shared per server and process.
 */
export class ComfyUiClient {
	readonly config: ComfyServerConfig;
	private readonly connection: ServerConnection;

	constructor(config: ComfyServerConfig | ComfyServerConfigInput | string) {
		this.config = toComfyServerConfig(config);
		this.connection = getServerConnection(this.config);
	}

	get server(): string {
		return this.config.baseUrl;
	}

	/** @internal the shared per-server state (pool balancing, tests) */
	get serverConnection(): ServerConnection {
		return this.connection;
	}

	/**
	 * Queues a workflow (API format). The WebSocket is opened and the prompt subscribed before the
	 * POST, so no event can be missed. Throws comfyui_prompt_invalid with every failing node listed,
	 * workflow_ui_format / workflow_invalid (field `workflow`), comfyui_payload_too_large,
	 * comfyui_auth_failed, comfyui_unreachable or comfyui_server_error.
	 */
	async submit(workflowInput: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
		const workflow = ensureApiWorkflow(workflowInput);
		const promptId = options.promptId ?? randomUUID();
		const connection = this.connection;
		const events = connection.events;
		let tracked: TrackedPrompt = connection.prompts.track(promptId, workflow, options.runFolder);
		events.beginSubmit();
		try {
			const websocket = await events.ensureOpen(this.config.wsOpenTimeoutMs);
			const extraData: Record<string, unknown> = { ...options.extraData };
			if (this.config.comfyOrgApiKey) extraData.api_key_comfy_org = this.config.comfyOrgApiKey;
			const body: Record<string, unknown> = {
				prompt: workflow,
				client_id: events.clientId,
				prompt_id: promptId,
				extra_data: extraData,
			};
			if (options.front) body.front = true;
			const accepted = await this.postPrompt(body, workflow, promptId, options);
			const actualId = typeof accepted.prompt_id === 'string' && accepted.prompt_id ? accepted.prompt_id : promptId;
			if (actualId !== promptId) {
				// A server older than #8189 chose its own id: follow it, with the events it already sent.
				connection.prompts.untrack(promptId, tracked);
				tracked = connection.prompts.track(actualId, workflow, options.runFolder);
				for (const event of events.takeBuffered(actualId)) tracked.onEvent(event);
			}
			tracked.warnings = parseNodeErrors(accepted, workflowClassTypes(workflow));
			tracked.orphanSince = tracked.waiter ? undefined : Date.now();
			return {
				promptId: actualId,
				number: typeof accepted.number === 'number' ? accepted.number : Number(accepted.number ?? -1),
				server: this.server,
				clientId: events.clientId,
				submittedAt: tracked.submittedAt,
				warnings: tracked.warnings,
				websocket,
			};
		} catch (error) {
			connection.prompts.untrack(promptId, tracked);
			if (options.signal?.aborted && !(error instanceof ComfyUiError)) throw await this.cancelledWhileSubmitting(promptId, error);
			throw error;
		} finally {
			events.endSubmit();
		}
	}

	/**
	 * POST /prompt with the documented retry policy: never re-sent blindly (ComfyUI would run it
	 * twice). Any 5xx, or a connection dropped after sending, is ambiguous: the client first looks for
	 * its own prompt_id in the queue and history and accepts the prompt if it is there. Otherwise:
	 * 503 (not processed, RFC 9110) is retried up to `unavailableRetries` times (250 ms, 1 s, or
	 * Retry-After up to 5 s); 500 (ComfyUI could not read the workflow) and 502/504 fail at once.
	 * A connection refused (nothing sent) fails with comfyui_unreachable and requestSent=false, which the
	 * pool takes as "try the next server".
	 */
	private async postPrompt(
		body: Record<string, unknown>,
		workflow: ApiWorkflow,
		promptId: string,
		options: SubmitOptions,
	): Promise<Record<string, unknown>> {
		const http = this.connection.http;
		const retries = options.unavailableRetries ?? UNAVAILABLE_RETRY_DELAYS_MS.length;
		const context = { server: this.server, promptId };
		for (let attempt = 0; ; attempt++) {
			let response: RawResponse;
			try {
				response = await http.send('POST', '/prompt', { json: body, signal: options.signal });
			} catch (error) {
				if (error instanceof ComfyUiError && error.code === 'comfyui_unreachable' && error.requestSent) {
					const known = await this.isKnownToServer(promptId);
					if (known === true) return { prompt_id: promptId };
					if (known === false) {
						throw new ComfyUiError(
							'job_lost',
							`ComfyUI at ${this.server} dropped the connection while accepting prompt ${promptId} and does not know it now (it restarted?): the workflow did not run.`,
							{ ...context, cause: error, hint: 'Run it again.' },
						);
					}
				}
				throw error;
			}
			const status = response.statusCode;
			if (status >= 200 && status < 300) return http.readJson<Record<string, unknown>>(response, 'POST');
			const text = await readText(response.body);
			if (status === 400) {
				let parsed: unknown;
				try {
					parsed = JSON.parse(text);
				} catch {
					throw http.statusError(response, 'POST', text);
				}
				throw validationError(parsed, workflowClassTypes(workflow), context);
			}
			// A proxy (or a crash after queueing) may have answered 5xx for a prompt ComfyUI did queue:
			// our prompt_id tells. Found → accepted, never submitted twice.
			if (status >= 500 && (await this.isKnownToServer(promptId)) === true) return { prompt_id: promptId };
			if (status === 503 && attempt < retries) {
				const retryAfter = Number(response.headers['retry-after']);
				const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 5_000) : UNAVAILABLE_RETRY_DELAYS_MS[Math.min(attempt, UNAVAILABLE_RETRY_DELAYS_MS.length - 1)];
				await delay(wait, options.signal);
				continue;
			}
			if (status === 500) {
				throw new ComfyUiError(
					'comfyui_server_error',
					`ComfyUI failed on POST /prompt with 500${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`,
					{
						...context,
						upstreamStatus: 500,
						hint: 'ComfyUI answers 500 when it cannot read the workflow (a malformed or UI-format workflow, a custom node missing) — check the ComfyUI server log for the traceback.',
					},
				);
			}
			const error = http.statusError(response, 'POST', text);
			throw new ComfyUiError(error.code, attempt > 0 ? `${error.message} (after ${attempt + 1} attempts)` : error.message, {
				...context,
				upstreamStatus: status,
				hint: status === 503 ? 'The server (or its proxy) is unavailable; try again later or add another server to the pool.' : error.hint,
			});
		}
	}

	/** n8n cancelled during the POST: ComfyUI may have queued the prompt anyway, so take it off. */
	private async cancelledWhileSubmitting(promptId: string, cause: unknown): Promise<ComfyUiError> {
		let outcome: CancelOutcome | undefined;
		try {
			outcome = await cancelOnServer(this.connection, promptId, Math.min(this.config.requestTimeoutMs, 5_000));
		} catch {
			outcome = undefined;
		}
		const done =
			outcome === 'deleted_from_queue' || outcome === 'interrupted'
				? `ComfyUI had accepted it; it was ${outcome === 'interrupted' ? 'interrupted' : 'deleted from the queue'}`
				: outcome === undefined
					? 'the client could not check whether ComfyUI had accepted it'
					: outcome === 'already_finished'
						? 'ComfyUI had accepted and already finished it'
						: 'ComfyUI had not accepted it';
		return new ComfyUiError('job_cancelled', `ComfyUI prompt ${promptId} was cancelled while being submitted: ${done}.`, {
			server: this.server,
			promptId,
			cancelAction: outcome === 'not_found' ? undefined : outcome,
			cause,
		});
	}

	/** Whether the server has our prompt_id (queued, running or in history); undefined if it cannot tell. */
	private async isKnownToServer(promptId: string): Promise<boolean | undefined> {
		try {
			const queue = await this.connection.readQueue();
			if (queuePosition(queue, promptId) !== 'absent') return true;
			return (await fetchHistoryEntry(this.connection, promptId)) !== undefined;
		} catch {
			return undefined;
		}
	}

	/**
	 * Resolves when /history shows the prompt finished successfully; otherwise throws ComfyUiError:
	 * comfyui_execution_failed (names node and exception), job_interrupted, job_lost, comfyui_timeout or job_cancelled
	 * (both after removing the job from the server; `cancelAction` says how).
	 */
	waitForCompletion(promptId: string, options: WaitOptions = {}): Promise<CompletionResult> {
		const connection = this.connection;
		return new Promise<CompletionResult>((resolve, reject) => {
			new CompletionWaiter(
				connection,
				this.config,
				promptId,
				connection.prompts.get(promptId),
				connection.prompts,
				options,
				resolve,
				reject,
			).start();
		});
	}

	/** Unique filename prefix + submit + wait. */
	async run(workflowInput: unknown, options: RunOptions = {}): Promise<CompletionResult> {
		const { workflow, promptId, runFolder } = prepareRun(workflowInput, options);
		const submitted = await this.submit(workflow, { ...options, promptId, runFolder });
		return this.waitForCompletion(submitted.promptId, options);
	}

	/** Streams one output file from /view (parameters URL-encoded; redirects to signed URLs followed without auth). */
	async download(file: DownloadableFile, options: DownloadOptions = {}): Promise<DownloadedFile> {
		const http = this.connection.http;
		let url = http.apiUrl('/view', {
			filename: file.filename,
			subfolder: file.subfolder ?? '',
			type: file.type ?? 'output',
			preview: options.preview,
		});
		for (let hop = 0; ; hop++) {
			const response = await http.send('GET', url, {
				signal: options.signal,
				bodyTimeoutMs: this.config.downloadIdleTimeoutMs,
			});
			const status = response.statusCode;
			if (status >= 300 && status < 400 && response.headers.location && hop < 5) {
				await response.body.dump().catch(() => undefined);
				url = new URL(String(response.headers.location), url);
				continue;
			}
			if (status !== 200) {
				const text = await readText(response.body, 2_000).catch(() => '');
				const where = `${file.subfolder ? `${file.subfolder}/` : ''}${file.filename} (${file.type ?? 'output'})`;
				if (status === 404) {
					throw new ComfyUiError('comfyui_bad_response', `ComfyUI at ${this.server} has no file ${where} (404)`, {
						server: this.server,
						upstreamStatus: 404,
						hint: 'The file was deleted, or it was a temp preview that a server restart wiped.',
					});
				}
				const error = http.statusError(response, 'GET', text);
				throw new ComfyUiError(error.code, `${error.message} while downloading ${where}`, {
					server: this.server,
					upstreamStatus: status,
				});
			}
			const contentType = String(response.headers['content-type'] ?? '').split(';')[0].trim();
			const mimeType =
				contentType && contentType !== 'application/octet-stream'
					? contentType
					: file.mimeType ?? mimeTypeFor(file.filename);
			const length = Number(response.headers['content-length']);
			return {
				stream: response.body,
				mimeType,
				bytes: Number.isFinite(length) && length >= 0 && !response.headers['content-encoding'] ? length : undefined,
				filename: file.filename,
			};
		}
	}

	/**
	 * Removes a prompt: deleted from the queue if pending, interrupted by prompt_id if running.
	 * Returns what happened; 'not_found' when the server does not know it.
	 */
	async cancel(promptId: string): Promise<CancelOutcome> {
		const outcome = await cancelOnServer(this.connection, promptId, this.config.requestTimeoutMs);
		// A prompt deleted from the queue sends no more events: stop listening unless someone waits.
		const tracked = this.connection.prompts.get(promptId);
		if (outcome === 'deleted_from_queue' && tracked && !tracked.waiter) this.connection.prompts.untrack(promptId, tracked);
		return outcome;
	}

	async getQueue(options: { signal?: AbortSignal } = {}): Promise<QueueStatus> {
		const raw = await this.connection.http.json<RawQueue>('GET', '/queue', { signal: options.signal });
		const items = (list: unknown[][] | undefined) =>
			(Array.isArray(list) ? list : []).map(toQueueItem).filter((i): i is QueueItem => i !== undefined);
		const running = items(raw.queue_running);
		const pending = items(raw.queue_pending).sort((a, b) => a.number - b.number);
		return { running, pending, remaining: running.length + pending.length };
	}

	/** queue_remaining (pending + running) from the cheap GET /prompt. */
	async getQueueRemaining(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number> {
		const body = await this.connection.http.json<{ exec_info?: { queue_remaining?: unknown } }>('GET', '/prompt', options);
		const remaining = body?.exec_info?.queue_remaining;
		if (typeof remaining !== 'number') {
			throw new ComfyUiError('comfyui_bad_response', `ComfyUI at ${this.server} sent no queue_remaining on GET /prompt`, { server: this.server });
		}
		return remaining;
	}

	/** The /history entry, or undefined while unknown, queued or running. */
	getHistory(promptId: string, options: { signal?: AbortSignal } = {}): Promise<HistoryEntry | undefined> {
		return fetchHistoryEntry(this.connection, promptId, options.signal);
	}

	/** "Get result by prompt id": where the prompt is now, and its result or error once finished. */
	async lookup(promptId: string, options: { outputTypes?: string[] } = {}): Promise<PromptLookup> {
		const entry = await fetchHistoryEntry(this.connection, promptId);
		const settle = (found: HistoryEntry): PromptLookup => {
			try {
				const tracked = this.connection.prompts.get(promptId);
				return {
					state: 'success',
					result: settleFromHistory(found, {
						server: this.server,
						promptId,
						classTypeOf: tracked?.classTypeOf ?? (() => undefined),
						runFolder: tracked?.runFolder,
						outputTypes: options.outputTypes,
					}),
				};
			} catch (error) {
				if (error instanceof ComfyUiError) return { state: 'failed', error };
				throw error;
			}
		};
		if (entry) return settle(entry);
		const queue = await this.getQueue();
		if (queue.running.some((i) => i.promptId === promptId)) return { state: 'running' };
		const position = queue.pending.findIndex((i) => i.promptId === promptId);
		if (position >= 0) return { state: 'pending', position };
		const late = await fetchHistoryEntry(this.connection, promptId);
		return late ? settle(late) : { state: 'unknown' };
	}

	systemStats(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SystemStats> {
		return this.connection.http.json<SystemStats>('GET', '/system_stats', options);
	}

	/** Node schemas; one class when given (an unknown class gives {}). */
	objectInfo(classType?: string, options: { signal?: AbortSignal } = {}): Promise<Record<string, NodeInfo>> {
		const path = classType ? `/object_info/${encodeURIComponent(classType)}` : '/object_info';
		return this.connection.http.json<Record<string, NodeInfo>>('GET', path, options);
	}

	/** The options of a combo input, e.g. ('CheckpointLoaderSimple', 'ckpt_name'). Both combo shapes (V1 list, V3 COMBO). */
	async listInputOptions(classType: string, inputName: string): Promise<string[]> {
		const info = (await this.objectInfo(classType))[classType];
		if (!info) {
			throw new ComfyUiError('comfyui_bad_response', `ComfyUI at ${this.server} has no node type ${classType}`, { server: this.server });
		}
		const spec = info.input?.required?.[inputName] ?? info.input?.optional?.[inputName];
		if (!Array.isArray(spec)) return [];
		const [first, second] = spec as [unknown, unknown];
		const list = Array.isArray(first)
			? first
			: first === 'COMBO' && second && typeof second === 'object' && Array.isArray((second as { options?: unknown }).options)
				? (second as { options: unknown[] }).options
				: [];
		return list.filter((v): v is string => typeof v === 'string');
	}

	/** Checkpoint names for a dropdown (CheckpointLoaderSimple's ckpt_name options). */
	listCheckpoints(): Promise<string[]> {
		return this.listInputOptions('CheckpointLoaderSimple', 'ckpt_name');
	}

	/**
	 * POST /upload/image (multipart, streamed: a Readable is never buffered). Without `overwrite`
	 * ComfyUI renames on conflict ("photo (1).png") unless the content is identical.
	 */
	async uploadImage(
		data: Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array>,
		filename: string,
		options: UploadImageOptions = {},
	): Promise<UploadedImage> {
		if (!filename || filename.includes('/') || filename.includes('\\')) {
			throw new ValidationError('invalid_input', `Upload file name "${filename}" must be a plain file name; use the subfolder option for folders.`, {
				field: 'fileName',
			});
		}
		const boundary = `----promptlab${randomUUID().replace(/-/g, '')}`;
		const type = options.type ?? 'input';
		const fields: Array<[string, string]> = [
			['overwrite', options.overwrite ? 'true' : 'false'],
			['subfolder', options.subfolder ?? ''],
			['type', type],
		];
		let head = '';
		for (const [name, value] of fields) {
			head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
		}
		head +=
			`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${headerFilename(filename)}"\r\n` +
			`Content-Type: ${options.mimeType ?? mimeTypeFor(filename)}\r\n\r\n`;
		const tail = `\r\n--${boundary}--\r\n`;
		const headers: Record<string, string> = { 'content-type': `multipart/form-data; boundary=${boundary}` };
		let body: Buffer | Readable;
		if (data instanceof Uint8Array) {
			body = Buffer.concat([Buffer.from(head), data, Buffer.from(tail)]);
			headers['content-length'] = String(body.length);
		} else {
			const stream = data;
			body = Readable.from(
				(async function* multipart() {
					yield Buffer.from(head);
					for await (const chunk of stream) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
					yield Buffer.from(tail);
				})(),
				{ objectMode: false },
			);
		}
		// A large upload over a slow link takes a while before ComfyUI answers: give it the download allowance.
		const timeoutMs = Math.max(this.config.requestTimeoutMs, this.config.downloadIdleTimeoutMs);
		const response = await this.connection.http.send('POST', '/upload/image', { body, headers, signal: options.signal, timeoutMs });
		const result = await this.connection.http.readJson<{ name?: unknown; subfolder?: unknown; type?: unknown }>(response, 'POST');
		if (typeof result.name !== 'string') {
			throw new ComfyUiError('comfyui_bad_response', `ComfyUI at ${this.server} answered the upload without a file name`, { server: this.server });
		}
		const subfolder = typeof result.subfolder === 'string' ? result.subfolder : options.subfolder ?? '';
		const resultType = typeof result.type === 'string' ? result.type : type;
		const path = subfolder ? `${subfolder.replace(/\/+$/, '')}/${result.name}` : result.name;
		return {
			name: result.name,
			subfolder,
			type: resultType,
			reference: resultType === 'input' ? path : `${path} [${resultType}]`,
		};
	}

	/** Credential test: GET /system_stats (auth, TLS, URL), then the WebSocket. Never throws. */
	async testConnection(options: { timeoutMs?: number } = {}): Promise<ConnectionTestResult> {
		const timeoutMs = options.timeoutMs ?? Math.min(this.config.requestTimeoutMs, 10_000);
		try {
			const stats = await this.systemStats({ timeoutMs });
			if (!stats || typeof stats !== 'object' || !('system' in stats || 'devices' in stats)) {
				throw new ComfyUiError('comfyui_bad_response', `${this.server}/system_stats did not answer like ComfyUI`, {
					server: this.server,
					hint: 'Check that the base URL points at ComfyUI itself.',
				});
			}
			const websocket = await this.connection.events.ensureOpen(Math.min(this.config.wsOpenTimeoutMs, timeoutMs));
			const version = typeof stats.system?.comfyui_version === 'string' ? stats.system.comfyui_version : undefined;
			const device = typeof stats.devices?.[0]?.name === 'string' ? (stats.devices[0].name as string) : undefined;
			const parts = [`Connected to ComfyUI${version ? ` ${version}` : ''} at ${this.server}`];
			if (device) parts.push(`device ${device}`);
			if (!websocket) {
				parts.push(
					`but its WebSocket could not be opened (${this.connection.events.lastError?.message ?? 'timeout'}); runs will work by polling, without progress — check that the proxy forwards WebSocket upgrades`,
				);
			}
			return { ok: true, message: parts.join(', '), server: this.server, comfyuiVersion: version, device, websocket };
		} catch (error) {
			const comfyError =
				error instanceof ComfyUiError
					? error
					: new ComfyUiError('comfyui_unreachable', error instanceof Error ? error.message : String(error), {
							server: this.server,
							cause: error,
						});
			// The credential test shows one text: what failed, then what to change in the credential.
			const message = comfyError.hint ? `${comfyError.message} ${comfyError.hint}` : comfyError.message;
			return { ok: false, message, server: this.server, error: comfyError };
		}
	}
}

/** Parses the workflow, picks the prompt id and rewrites filename prefixes for one run. */
export function prepareRun(
	workflowInput: unknown,
	options: { promptId?: string; uniquePrefix?: boolean },
): { workflow: ApiWorkflow; promptId: string; runFolder?: string } {
	const parsed = ensureApiWorkflow(workflowInput);
	const promptId = options.promptId ?? randomUUID();
	if (options.uniquePrefix === false) return { workflow: parsed, promptId };
	const prefixed = withRunFilenamePrefix(parsed, promptId);
	return { workflow: prefixed.workflow, promptId, runFolder: prefixed.runFolder };
}
