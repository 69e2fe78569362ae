import type { ComfyServerConfig } from './config';
import type { RawQueue, ServerConnection } from './connection';
import { ComfyUiError, executionError, type CancelAction, type ClassTypeLookup, type ComfyNodeError } from './errors';
import type { ComfyEvent } from './events';
import { isAbortError } from './http';
import { extractOutputFiles, extractTextOutputs, type HistoryEntry, type OutputFile } from './outputs';
import type { PromptRegistry, TrackedPrompt } from './prompts';

export interface CompletionTimings {
	/** When the client submitted the prompt (epoch ms; ComfyUI's create_time when another process submitted it). */
	queuedAt: number;
	/** execution_start timestamp from ComfyUI. */
	startedAt?: number;
	/** Terminal message timestamp from ComfyUI (or when the client read the history). */
	finishedAt: number;
	/** finishedAt - (startedAt ?? queuedAt) */
	durationMs: number;
}

export interface CompletionResult {
	promptId: string;
	server: string;
	status: 'success';
	/** Every file in the history outputs, in node order; `cached` marks files of an earlier run. */
	outputs: OutputFile[];
	/** `text` outputs per node id. */
	texts: Record<string, string[]>;
	/** The /history entry: the source of truth this result was read from. */
	history: HistoryEntry;
	timings: CompletionTimings;
	/** Node ids ComfyUI took from its cache instead of running. */
	cachedNodes: string[];
	/** `promptlab/<promptId>` when run() rewrote the save nodes' filename_prefix. */
	runFolder?: string;
	/** Output nodes dropped at validation while others ran (POST /prompt 200 with node_errors). */
	warnings: ComfyNodeError[];
}

export interface WaitOptions {
	/** Deadline for the whole wait; on expiry the job is removed from the server. Default config.defaultTimeoutMs. */
	timeoutMs?: number;
	/** n8n's cancel signal: the job is removed from the server and the wait rejects with 'job_cancelled'. */
	signal?: AbortSignal;
	/** Every WebSocket event for this prompt, in arrival order (including ones received before the wait began). */
	onProgress?: (event: ComfyEvent) => void;
	/** Keep only output files of these ComfyUI folders (output, temp, input). Default: all. */
	outputTypes?: string[];
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a terminal event waits for executing{node:null} before reading history anyway. */
const TERMINAL_GRACE_MS = 25;
export async function fetchHistoryEntry(connection: ServerConnection, promptId: string, signal?: AbortSignal): Promise<HistoryEntry | undefined> {
	const body = await connection.http.json<Record<string, HistoryEntry>>('GET', `/history/${encodeURIComponent(promptId)}`, {
		signal,
	});
	const entry = body && typeof body === 'object' ? body[promptId] : undefined;
	return entry && typeof entry === 'object' ? entry : undefined;
}

export type QueuePosition = 'running' | 'pending' | 'absent';

export function queuePosition(queue: RawQueue, promptId: string): QueuePosition {
	const has = (items: unknown[][] | undefined) => Array.isArray(items) && items.some((item) => Array.isArray(item) && String(item[1]) === promptId);
	if (has(queue.queue_running)) return 'running';
	if (has(queue.queue_pending)) return 'pending';
	return 'absent';
}

export type CancelOutcome = CancelAction | 'not_found';

/**
 * Removes a prompt from the server: deleted from the queue while pending, interrupted by its
 * prompt_id while running. The queue is re-read after a delete because the worker may have
 * taken the prompt in between. The whole exchange has one deadline (`budgetMs`), so a server
 * that accepts connections but never answers cannot stretch a timeout.
 */
export async function cancelOnServer(connection: ServerConnection, promptId: string, budgetMs: number): Promise<CancelOutcome> {
	const controller = new AbortController();
	const timer = setTimeout(() => controller.abort(), budgetMs);
	timer.unref();
	const options = { timeoutMs: budgetMs, signal: controller.signal };
	try {
		let deleted = false;
		for (let attempt = 0; attempt < 3; attempt++) {
			const queue = await connection.http.json<RawQueue>('GET', '/queue', options);
			const position = queuePosition(queue, promptId);
			if (position === 'running') {
				await connection.http.empty('POST', '/interrupt', { ...options, json: { prompt_id: promptId } });
				return 'interrupted';
			}
			if (position !== 'pending') break;
			await connection.http.empty('POST', '/queue', { ...options, json: { delete: [promptId] } });
			deleted = true;
		}
		if (deleted) return 'deleted_from_queue';
		const entry = await fetchHistoryEntry(connection, promptId, controller.signal);
		return entry ? 'already_finished' : 'not_found';
	} catch (error) {
		if (controller.signal.aborted && isAbortError(error)) {
			throw new ComfyUiError('comfyui_unreachable', `ComfyUI at ${connection.server} did not answer the cancel requests within ${budgetMs} ms`, {
				server: connection.server,
				promptId,
				cause: error,
			});
		}
		throw error;
	} finally {
		clearTimeout(timer);
	}
}

function messageOf(entry: HistoryEntry, type: string): Record<string, unknown> | undefined {
	const found = entry.status?.messages?.find((m) => Array.isArray(m) && m[0] === type);
	return found?.[1] && typeof found[1] === 'object' ? found[1] : undefined;
}

function numberOr(value: unknown, fallback: number | undefined): number | undefined {
	return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/**
 * Turns a history entry into the result or the error. History is the source of truth:
 * `status_str` decides (before `completed`); WS events never make a success on their own.
 */
export function settleFromHistory(
	entry: HistoryEntry,
	context: {
		server: string;
		promptId: string;
		classTypeOf: ClassTypeLookup;
		submittedAt?: number;
		runFolder?: string;
		warnings?: ComfyNodeError[];
		cachedNodes?: Iterable<string>;
		outputTypes?: string[];
	},
): CompletionResult {
	const { server, promptId, classTypeOf } = context;
	const statusStr = entry.status?.status_str;
	const success = statusStr === 'success' || (statusStr === undefined && entry.status?.completed === true);
	if (!success) {
		const failure = messageOf(entry, 'execution_error');
		if (failure) throw executionError(failure, classTypeOf, { server, promptId });
		const interrupted = messageOf(entry, 'execution_interrupted');
		if (interrupted) {
			const nodeId = typeof interrupted.node_id === 'string' ? interrupted.node_id : undefined;
			const classType = (typeof interrupted.node_type === 'string' ? interrupted.node_type : undefined) ?? (nodeId ? classTypeOf(nodeId) : undefined) ?? '?';
			throw new ComfyUiError(
				'job_interrupted',
				`ComfyUI prompt ${promptId} was interrupted${nodeId ? ` at node ${nodeId} (${classType})` : ''} by someone other than this workflow (Cancel in the ComfyUI UI, or another client).`,
				{
					server,
					promptId,
					nodeErrors: nodeId ? [{ nodeId, classType, message: 'interrupted' }] : [],
				},
			);
		}
		if (statusStr === 'error') {
			throw new ComfyUiError('comfyui_execution_failed', `ComfyUI reports prompt ${promptId} as failed without saying where (history status "error").`, {
				server,
				promptId,
			});
		}
		throw new ComfyUiError(
			'comfyui_bad_response',
			`ComfyUI's history for prompt ${promptId} has no final status (status_str ${JSON.stringify(statusStr)}); not treated as a success.`,
			{ server, promptId },
		);
	}
	const cached = new Set(context.cachedNodes ?? []);
	const cachedMessage = messageOf(entry, 'execution_cached');
	if (Array.isArray(cachedMessage?.nodes)) for (const n of cachedMessage.nodes) cached.add(String(n));
	const startMessage = messageOf(entry, 'execution_start');
	const endMessage = messageOf(entry, 'execution_success');
	const extraData = Array.isArray(entry.prompt) ? (entry.prompt[3] as Record<string, unknown> | undefined) : undefined;
	const startedAt = numberOr(startMessage?.timestamp, undefined);
	const finishedAt = numberOr(endMessage?.timestamp, Date.now()) as number;
	const queuedAt = context.submittedAt ?? numberOr(extraData?.create_time, undefined) ?? startedAt ?? finishedAt;
	return {
		promptId,
		server,
		status: 'success',
		outputs: extractOutputFiles(entry, { cachedNodes: cached, types: context.outputTypes }),
		texts: extractTextOutputs(entry),
		history: entry,
		timings: { queuedAt, startedAt, finishedAt, durationMs: Math.max(0, finishedAt - (startedAt ?? queuedAt)) },
		cachedNodes: [...cached],
		runFolder: context.runFolder,
		warnings: context.warnings ?? [],
	};
}

type CheckKind = 'history' | 'full';

/**
 * Waits for one prompt. Completion is whichever comes first of: a terminal WS event (then
 * /history, retried briefly because ComfyUI sends execution_success before writing history),
 * and the slow /history poll beside the socket (fast while the socket is down). "Absent from
 * history, absent from the queue, absent from history again" is a lost prompt. The deadline and
 * the abort signal remove the job from the server before rejecting. Every path settles exactly once
 * and leaves no timer behind.
 */
export class CompletionWaiter {
	private done = false;
	private checking = false;
	private pendingCheck?: CheckKind;
	private nextTimer?: NodeJS.Timeout;
	private deadlineTimer?: NodeJS.Timeout;
	private terminalAt?: number;
	private fastDelay = 0;
	private readonly cachedNodes = new Set<string>();
	private lastCheckError?: Error;
	private ownSubscription?: () => void;
	private readonly abortListener = () => this.stop('cancelled');

	constructor(
		private readonly connection: ServerConnection,
		private readonly config: ComfyServerConfig,
		private readonly promptId: string,
		private readonly tracked: TrackedPrompt | undefined,
		private readonly registry: PromptRegistry,
		private readonly options: WaitOptions,
		private readonly resolve: (result: CompletionResult) => void,
		private readonly reject: (error: Error) => void,
	) {}

	start(): void {
		const { signal } = this.options;
		if (signal?.aborted) {
			this.stop('cancelled');
			return;
		}
		const timeoutMs = this.options.timeoutMs ?? this.config.defaultTimeoutMs;
		// setTimeout fires at once above 2^31-1 ms (~24.8 days): cap rather than time out immediately.
		const deadlineMs = Number.isFinite(timeoutMs) && timeoutMs > 0 ? Math.min(timeoutMs, MAX_TIMER_MS) : MAX_TIMER_MS;
		this.deadlineTimer = setTimeout(() => this.stop('timeout'), deadlineMs);
		this.deadlineTimer.unref();
		signal?.addEventListener('abort', this.abortListener, { once: true });

		const events = this.connection.events;
		if (this.tracked) {
			this.tracked.waiter = this;
			this.tracked.orphanSince = undefined;
			const early = this.tracked.events.splice(0);
			for (const event of early) this.onEvent(event);
			if (this.done) return;
			if (this.tracked.terminalSeen || !events.isOpen) this.requestCheck('full');
			else this.scheduleNext();
		} else {
			// A prompt submitted elsewhere (another n8n process, a previous run): its events go to
			// another clientId, so this wait rests on /history polling; the socket only helps if it is ours.
			this.ownSubscription = events.subscribe(this.promptId, this);
			void events.ensureOpen(this.config.wsOpenTimeoutMs);
			this.requestCheck('full');
		}
	}

	onEvent(event: ComfyEvent): void {
		if (this.done) return;
		if (this.options.onProgress) {
			try {
				this.options.onProgress(event);
			} catch {
				// A progress callback's bug must not lose the job.
			}
		}
		const data = event.data;
		switch (event.type) {
			case 'execution_cached':
				if (Array.isArray(data.nodes)) for (const n of data.nodes) this.cachedNodes.add(String(n));
				break;
			case 'executing':
				// node null comes right after ComfyUI wrote the history entry: read it now.
				if (data.node === null) this.onHistoryWritten();
				break;
			case 'execution_success':
			case 'execution_error':
			case 'execution_interrupted':
				this.onTerminal();
				break;
			default:
				break;
		}
	}

	onReconnect(): void {
		// ComfyUI replays nothing: whatever happened while the socket was down is only in history/queue.
		if (!this.done) this.requestCheck('full');
	}

	onDisconnect(): void {
		if (!this.done && !this.checking) this.scheduleNext();
	}

	/**
	 * execution_success/_error/_interrupted come just before ComfyUI writes the history entry, and
	 * executing{node:null} just after: reading history at the first is wasted (it is still `{}`), so
	 * the read waits a moment for the second, and goes ahead without it if it does not come.
	 */
	private onTerminal(): void {
		if (this.terminalAt !== undefined) return;
		this.terminalAt = Date.now();
		this.fastDelay = 0;
		if (this.checking) return;
		if (this.nextTimer) clearTimeout(this.nextTimer);
		this.nextTimer = setTimeout(() => {
			this.nextTimer = undefined;
			this.requestCheck('history');
		}, TERMINAL_GRACE_MS);
		this.nextTimer.unref();
	}

	private onHistoryWritten(): void {
		if (this.terminalAt === undefined) this.terminalAt = Date.now();
		this.fastDelay = 0;
		this.requestCheck('history');
	}

	private requestCheck(kind: CheckKind): void {
		if (this.done) return;
		if (this.checking) {
			if (this.pendingCheck !== 'full') this.pendingCheck = kind;
			return;
		}
		if (this.nextTimer) {
			clearTimeout(this.nextTimer);
			this.nextTimer = undefined;
		}
		void this.check(kind);
	}

	private async check(kind: CheckKind): Promise<void> {
		this.checking = true;
		let outcome: 'found' | 'lost' | 'open' = 'open';
		let entry: HistoryEntry | undefined;
		const checkStart = performance.now();
		try {
			entry = await fetchHistoryEntry(this.connection, this.promptId);
			if (entry) outcome = 'found';
			else if (kind === 'full' && !this.done) {
				const queue = await this.connection.readQueue(checkStart);
				if (queuePosition(queue, this.promptId) === 'absent' && !this.done) {
					// It may have finished between the two reads: history is written before it leaves the queue.
					entry = await fetchHistoryEntry(this.connection, this.promptId);
					outcome = entry ? 'found' : 'lost';
				}
			}
			this.lastCheckError = undefined;
		} catch (error) {
			this.lastCheckError = error instanceof Error ? error : new Error(String(error));
		}
		this.checking = false;
		if (this.done) return;
		if (outcome === 'found' && entry) {
			this.finishWith(entry);
			return;
		}
		if (outcome === 'lost') {
			this.fail(
				new ComfyUiError(
					'job_lost',
					`ComfyUI prompt ${this.promptId} is neither queued, running nor in the history of ${this.connection.server}: ` +
						'the server lost it (restarted, or its history was cleared). It did not succeed.',
					{ server: this.connection.server, promptId: this.promptId, hint: 'Run it again.' },
				),
			);
			return;
		}
		const again = this.pendingCheck;
		this.pendingCheck = undefined;
		if (again) {
			void this.check(again);
			return;
		}
		this.scheduleNext();
	}

	private scheduleNext(): void {
		if (this.done) return;
		if (this.nextTimer) clearTimeout(this.nextTimer);
		let delay: number;
		let kind: CheckKind;
		if (this.terminalAt !== undefined && Date.now() - this.terminalAt < this.config.historyRetryMs) {
			// The terminal event came but history is still {}: retry soon, growing to 250 ms.
			this.fastDelay = Math.min(250, Math.max(5, this.fastDelay * 2));
			delay = this.fastDelay;
			kind = 'history';
		} else {
			const interval = this.connection.events.isOpen ? this.config.historyPollIntervalMs : this.config.fallbackPollIntervalMs;
			// ±20 % jitter spreads the polls of many concurrent prompts.
			delay = interval * (0.8 + Math.random() * 0.4);
			kind = 'full';
		}
		this.nextTimer = setTimeout(() => {
			this.nextTimer = undefined;
			this.requestCheck(kind);
		}, delay);
		this.nextTimer.unref();
	}

	private finishWith(entry: HistoryEntry): void {
		try {
			const result = settleFromHistory(entry, {
				server: this.connection.server,
				promptId: this.promptId,
				classTypeOf: this.tracked?.classTypeOf ?? (() => undefined),
				submittedAt: this.tracked?.submittedAt,
				runFolder: this.tracked?.runFolder,
				warnings: this.tracked?.warnings,
				cachedNodes: this.cachedNodes,
				outputTypes: this.options.outputTypes,
			});
			this.cleanup();
			this.resolve(result);
		} catch (error) {
			this.fail(error instanceof Error ? error : new Error(String(error)));
		}
	}

	private fail(error: Error): void {
		this.cleanup();
		this.reject(error);
	}

	private cleanup(): void {
		this.done = true;
		if (this.nextTimer) clearTimeout(this.nextTimer);
		if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
		this.nextTimer = this.deadlineTimer = undefined;
		this.options.signal?.removeEventListener('abort', this.abortListener);
		this.ownSubscription?.();
		if (this.tracked) {
			this.tracked.waiter = undefined;
			this.registry.untrack(this.promptId, this.tracked);
		}
	}

	/** Deadline or cancel: take the job off the server, then reject saying what was done. */
	private stop(reason: 'timeout' | 'cancelled'): void {
		if (this.done) return;
		this.cleanup();
		void this.cancelAndReport(reason);
	}

	private async cancelAndReport(reason: 'timeout' | 'cancelled'): Promise<void> {
		const server = this.connection.server;
		const promptId = this.promptId;
		let outcome: CancelOutcome | undefined;
		let cancelError: Error | undefined;
		try {
			outcome = await cancelOnServer(this.connection, promptId, Math.min(this.config.requestTimeoutMs, 10_000));
		} catch (error) {
			cancelError = error instanceof Error ? error : new Error(String(error));
		}
		if (reason === 'timeout' && outcome === 'already_finished') {
			// It finished as the deadline hit: the real outcome is in history, report that instead.
			try {
				const entry = await fetchHistoryEntry(this.connection, promptId);
				if (entry) {
					this.resolve(
						settleFromHistory(entry, {
							server,
							promptId,
							classTypeOf: this.tracked?.classTypeOf ?? (() => undefined),
							submittedAt: this.tracked?.submittedAt,
							runFolder: this.tracked?.runFolder,
							warnings: this.tracked?.warnings,
							cachedNodes: this.cachedNodes,
							outputTypes: this.options.outputTypes,
						}),
					);
					return;
				}
			} catch (error) {
				if (error instanceof ComfyUiError && error.code !== 'comfyui_unreachable' && !isAbortError(error)) {
					this.reject(error);
					return;
				}
			}
		}
		const what =
			reason === 'timeout'
				? `ComfyUI prompt ${promptId} did not finish within ${Math.round((this.options.timeoutMs ?? this.config.defaultTimeoutMs) / 1000)} s on ${server}`
				: `ComfyUI prompt ${promptId} was cancelled`;
		let done: string;
		switch (outcome) {
			case 'deleted_from_queue':
				done = 'it was still waiting in the queue and was deleted from it';
				break;
			case 'interrupted':
				done = 'it was running and was interrupted';
				break;
			case 'already_finished':
				done = 'it had already finished';
				break;
			case 'not_found':
				done = 'the server no longer knows it (neither queued, running nor in history)';
				break;
			default:
				done = `the client could not remove it from the server (${cancelError?.message ?? this.lastCheckError?.message ?? 'unknown error'}); it may still run there`;
		}
		const hint =
			reason === 'timeout'
				? 'Raise the timeout if the workflow legitimately takes longer, or check the server\'s queue.'
				: undefined;
		this.reject(
			new ComfyUiError(reason === 'timeout' ? 'comfyui_timeout' : 'job_cancelled', `${what}: ${done}.`, {
				server,
				promptId,
				cancelAction: outcome === 'not_found' ? undefined : outcome,
				hint,
				cause: cancelError,
			}),
		);
	}
}
