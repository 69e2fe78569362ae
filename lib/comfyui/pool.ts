import { randomUUID } from 'node:crypto';

import { UpstreamError } from '../errors';
import {
	ComfyUiClient,
	prepareRun,
	type DownloadableFile,
	type DownloadedFile,
	type DownloadOptions,
	type RunOptions,
	type SubmitOptions,
	type SubmitResult,
} from './client';
import type { CompletionResult } from './completion';
import type { ComfyServerConfig, ComfyServerConfigInput } from './config';
import type { ServerConnection } from './connection';
import { ComfyUiError, isComfyUiError } from './errors';
import {
	meanJobTime,
	observeJobTime,
	planDispatch,
	recordJobTime,
	recordProbedQueue,
	serverLoad,
	slotScheduler,
	type SlotHandle,
} from './scheduler';


export interface PoolRunOptions extends RunOptions {
	/** Called once the job is on a server (before waiting): the place to record where it runs. */
	onSubmitted?: (submitted: SubmitResult) => Promise<void> | void;
}

export interface ComfyServerPoolOptions {
	/** How long an unreachable server is skipped (default 15 s). */
	downForMs?: number;
	/** Deadline of the queue-depth probe of a server whose WebSocket is not open (default 3 s). */
	probeTimeoutMs?: number;
	/**
	 * run() sends a server a job only while its load (max of the queue it reports and our jobs on
	 * it) is below this; further jobs wait in the pool for the server where they finish first.
	 * Default 2: one running, one queued, so a server never idles between jobs.
	 */
	slotsPerServer?: number;
}

export interface ServerHealth {
	server: string;
	up: boolean;
	/** pending + running as the server reports it (WS status or GET /prompt), when known. */
	queueRemaining?: number;
	/** Jobs this process has on it and has not seen finish. */
	activeJobs: number;
	/** Mean time per job this process has seen on it lately (execution_start → success), when known. */
	meanJobMs?: number;
	lastError?: string;
}

/** What a run() carries through its wait for a server: its deadline, its cancel signal, its FIFO place. */
interface RunBudget {
	promptId: string;
	startedAt: number;
	/** The caller's timeoutMs as given (undefined: each server's defaultTimeoutMs). */
	timeoutMs?: number;
	/** Epoch ms after which a job still waiting for a server gives up; undefined: never. */
	holdDeadline?: number;
	signal?: AbortSignal;
	/** Time spent waiting for a free server so far. */
	heldMs: number;
	seq?: number;
}

function finiteTimeout(ms: number | undefined): number | undefined {
	return ms !== undefined && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

function seconds(ms: number): string {
	return ms >= 10_000 ? String(Math.round(ms / 1000)) : String(Math.round(ms / 100) / 10);
}

/** Probes in flight, shared by the jobs of a burst that all ask about the same server at once. */
const probesInFlight = new WeakMap<ServerConnection, Promise<boolean>>();

/**
 * Several ComfyUI servers behind one interface. A prompt, its socket, polling and downloads stay
 * on the server that took it (ComfyUI state is per server). A server that cannot be reached is
 * marked down for a while and skipped; a submit that could not reach its server, or got a 503, is
 * moved to the next one.
 *
 * Where jobs go: to the server where they are expected to finish first, (jobs there + 1) × that
 * server's mean job time, learned per server from finished jobs (equal until known). run() jobs
 * wait in the pool (FIFO, shared by every pool of the process) and a server gets at most
 * `slotsPerServer` of them, so a slow server is never handed a share of a burst before its speed
 * is known, and the last jobs of a batch go to the fast server that frees up first rather than to
 * an idle slow one (see scheduler.ts). submit() and pick() place at once, by the same estimate.
 *
 * Health marks, load counters and learned speeds live per server connection in this process, so
 * every pool (one per n8n execution) built from the same credentials shares them.
 */
export class ComfyServerPool {
	readonly clients: ComfyUiClient[];
	private readonly downForMs: number;
	private readonly probeTimeoutMs: number;
	private readonly slotsPerServer: number;
	private roundRobin = 0;

	constructor(configs: Array<ComfyServerConfig | ComfyServerConfigInput | string>, options: ComfyServerPoolOptions = {}) {
		if (configs.length === 0) throw new UpstreamError('comfyui_misconfigured', 'A ComfyUI server pool needs at least one server');
		const seen = new Set<string>();
		this.clients = [];
		for (const config of configs) {
			const client = new ComfyUiClient(config);
			if (seen.has(client.serverConnection.key)) continue;
			seen.add(client.serverConnection.key);
			this.clients.push(client);
		}
		this.downForMs = options.downForMs ?? 15_000;
		this.probeTimeoutMs = options.probeTimeoutMs ?? 3_000;
		const slots = options.slotsPerServer ?? 2;
		if (!(slots >= 1)) throw new UpstreamError('comfyui_misconfigured', 'slotsPerServer must be at least 1');
		this.slotsPerServer = slots;
	}

	/** The client of one server (to get a result, download or cancel on the server that ran the job). */
	client(server: string): ComfyUiClient | undefined {
		const normalized = server.replace(/\/+$/, '');
		return this.clients.find((c) => c.server === normalized);
	}

	/**
	 * The reachable server where one more job is expected to finish first: (load + 1) × its mean
	 * job time, load = max(server-reported queue_remaining, our own active jobs there); ties go to
	 * fewer of our jobs, then round robin. Counting our own jobs makes a burst of simultaneous picks
	 * spread out before the servers report their queues. The pick counts as an active job on the
	 * server (activeJobs + 1) until the caller releases it.
	 */
	async pick(exclude: ReadonlySet<ComfyUiClient> = new Set()): Promise<ComfyUiClient> {
		const candidates = await this.reachable(exclude);
		// Loads are read now, synchronously, because other picks may have placed jobs meanwhile.
		const [grant] = planDispatch([{ servers: candidates.map((c) => c.serverConnection), slotsPerServer: Infinity }], serverLoad, {
			rotation: this.roundRobin++,
		});
		const chosen = candidates.find((c) => c.serverConnection === grant.server) as ComfyUiClient;
		chosen.serverConnection.activeJobs++;
		return chosen;
	}

	/** The untried servers that answer (down-marked ones only when nothing else is left); throws comfyui_unreachable when none does. */
	private async reachable(exclude: ReadonlySet<ComfyUiClient>): Promise<ComfyUiClient[]> {
		const now = Date.now();
		const untried = this.clients.filter((c) => !exclude.has(c));
		let eligible = untried.filter((c) => c.serverConnection.downUntil <= now);
		// All marked down: probe them anyway rather than fail without asking (one may be back).
		if (eligible.length === 0) eligible = untried;
		const reached = await Promise.all(eligible.map((client) => this.probe(client)));
		const candidates = eligible.filter((_, i) => reached[i]);
		if (candidates.length === 0) {
			const reasons = this.clients.map((c) => `${c.server}: ${c.serverConnection.lastFailure?.message ?? 'skipped'}`);
			throw new ComfyUiError('comfyui_unreachable', `No ComfyUI server of the pool is reachable: ${reasons.join('; ')}`, {
				requestSent: false,
			});
		}
		return candidates;
	}

	private probe(client: ComfyUiClient): Promise<boolean> {
		const connection = client.serverConnection;
		let running = probesInFlight.get(connection);
		if (!running) {
			running = this.probeNow(client).finally(() => probesInFlight.delete(connection));
			probesInFlight.set(connection, running);
		}
		return running;
	}

	private async probeNow(client: ComfyUiClient): Promise<boolean> {
		const connection = client.serverConnection;
		const events = connection.events;
		// The WS status message is broadcast on every queue change: while open it is the live depth.
		const open = await events.ensureOpen(Math.min(client.config.wsOpenTimeoutMs, this.probeTimeoutMs));
		if (open && events.queueRemaining !== undefined) {
			connection.markUp();
			return true;
		}
		try {
			const remaining = await client.getQueueRemaining({ timeoutMs: this.probeTimeoutMs });
			recordProbedQueue(connection, remaining);
			connection.markUp();
			return true;
		} catch (error) {
			if (error instanceof ComfyUiError && (error.code === 'comfyui_unreachable' || error.code === 'comfyui_server_error')) {
				connection.markDown(error, this.downForMs);
				return false;
			}
			// auth or protocol trouble: a real problem the user must see, not a reason to hide the server.
			throw error;
		}
	}

	/**
	 * Queues the workflow at once on the server where it is expected to finish first and returns
	 * when ComfyUI accepted it (no wait in the pool); a server that cannot be reached is skipped for
	 * the next one. Its events teach the pool that server's speed.
	 */
	async submit(workflow: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
		// Chosen here so the pool can follow the prompt's events from before the POST.
		const promptId = options.promptId ?? randomUUID();
		const { client, result } = await this.placeJob(
			async (candidate) => {
				const stopObserving = observeJobTime(candidate.serverConnection, promptId, candidate.config.defaultTimeoutMs);
				try {
					const submitted = await candidate.submit(workflow, { unavailableRetries: 0, ...options, promptId });
					// A server older than #8189 chose its own id: its events will not carry ours.
					if (submitted.promptId !== promptId) stopObserving();
					return submitted;
				} catch (error) {
					stopObserving();
					throw error;
				}
			},
			(tried) => this.pick(tried),
		);
		// From here on the server's own queue_remaining counts this job.
		slotScheduler().release(client.serverConnection);
		return result;
	}

	/**
	 * Runs the workflow on the server where it is expected to finish first; result.server tells
	 * which. The job may first wait in the pool for that server to have a free slot: `timeoutMs`
	 * (default: the server's defaultTimeoutMs) covers that wait too, and a job cancelled or timed
	 * out while waiting never reached a server (job_cancelled / comfyui_timeout, no cancelAction).
	 */
	async run(workflowInput: unknown, options: PoolRunOptions = {}): Promise<CompletionResult> {
		const startedAt = Date.now();
		const { workflow, promptId, runFolder } = prepareRun(workflowInput, options);
		const holdFor = options.timeoutMs !== undefined ? finiteTimeout(options.timeoutMs) : Math.max(...this.clients.map((c) => c.config.defaultTimeoutMs));
		const budget: RunBudget = {
			promptId,
			startedAt,
			timeoutMs: options.timeoutMs,
			holdDeadline: holdFor === undefined ? undefined : startedAt + holdFor,
			signal: options.signal,
			heldMs: 0,
		};
		const { client, result: submitted } = await this.placeJob(
			(candidate) => candidate.submit(workflow, { unavailableRetries: 0, ...options, promptId, runFolder }),
			(tried) => this.acquire(tried, budget),
		);
		const connection = client.serverConnection;
		try {
			if (options.onSubmitted) {
				try {
					await options.onSubmitted(submitted);
				} catch (error) {
					// The caller could not take the job on (e.g. could not record it): do not let it run unseen.
					await client.cancel(submitted.promptId).catch(() => undefined);
					throw error;
				}
			}
			const result = await client.waitForCompletion(submitted.promptId, { ...options, timeoutMs: this.remainingWait(client, budget) });
			// A run whose outputs all came from ComfyUI's cache says nothing about the server's speed.
			const ranSomething = result.outputs.length === 0 || result.outputs.some((o) => !o.cached);
			if (result.timings.startedAt !== undefined && ranSomething) recordJobTime(connection, result.timings.durationMs);
			return result;
		} catch (error) {
			throw this.withWaitNote(error, client, budget);
		} finally {
			slotScheduler().release(connection);
		}
	}

	/** Streams an output from the server that produced it (`result.server`). */
	download(server: string, file: DownloadableFile, options: DownloadOptions = {}): Promise<DownloadedFile> {
		const client = this.client(server);
		if (!client) {
			return Promise.reject(new ComfyUiError('comfyui_bad_response', `${server} is not a server of this pool`, { server }));
		}
		return client.download(file, options);
	}

	/**
	 * Gets a server (`acquire`), submits, moves on when the server could not be reached or answered
	 * 503. On success the job's activeJobs count on its server is the caller's to release.
	 */
	private async placeJob<T>(
		submit: (client: ComfyUiClient) => Promise<T>,
		acquire: (tried: ReadonlySet<ComfyUiClient>) => Promise<ComfyUiClient>,
	): Promise<{ client: ComfyUiClient; result: T }> {
		const tried = new Set<ComfyUiClient>();
		let lastError: unknown;
		while (tried.size < this.clients.length) {
			let client: ComfyUiClient;
			try {
				client = await acquire(tried);
			} catch (error) {
				// Cancelled or timed out while waiting for a server: that is the outcome, not the last server's failure.
				if (isComfyUiError(error, 'job_cancelled') || isComfyUiError(error, 'comfyui_timeout')) throw error;
				throw lastError ?? error;
			}
			tried.add(client);
			try {
				return { client, result: await submit(client) };
			} catch (error) {
				slotScheduler().release(client.serverConnection);
				const movable =
					error instanceof ComfyUiError &&
					((error.code === 'comfyui_unreachable' && !error.requestSent) || (error.code === 'comfyui_server_error' && error.upstreamStatus === 503));
				if (!movable) throw error;
				client.serverConnection.markDown(error as Error, this.downForMs);
				lastError = error;
			}
		}
		throw lastError;
	}

	/** A run()'s way to a server: the reachable untried servers, then its turn in the pool's FIFO. */
	private async acquire(tried: ReadonlySet<ComfyUiClient>, budget: RunBudget): Promise<ComfyUiClient> {
		this.throwIfEnded(budget);
		const candidates = await this.reachable(tried);
		this.throwIfEnded(budget);
		return this.waitForSlot(candidates, budget);
	}

	private throwIfEnded(budget: RunBudget): void {
		if (budget.signal?.aborted) throw this.endedWhileWaiting('cancelled', budget);
		if (budget.holdDeadline !== undefined && Date.now() >= budget.holdDeadline) throw this.endedWhileWaiting('timeout', budget);
	}

	private waitForSlot(candidates: ComfyUiClient[], budget: RunBudget): Promise<ComfyUiClient> {
		return new Promise<ComfyUiClient>((resolve, reject) => {
			const waitingSince = Date.now();
			let settled = false;
			let handle: SlotHandle | undefined;
			let timer: NodeJS.Timeout | undefined;
			const settle = () => {
				settled = true;
				budget.heldMs += Date.now() - waitingSince;
				if (timer) clearTimeout(timer);
				budget.signal?.removeEventListener('abort', onAbort);
			};
			const end = (reason: 'cancelled' | 'timeout') => {
				// A job that got its server in the meantime goes on; the submit and the wait see the signal.
				if (settled || !handle?.withdraw()) return;
				settle();
				reject(this.endedWhileWaiting(reason, budget));
			};
			const onAbort = () => end('cancelled');
			const onGrant = (connection: ServerConnection) => {
				settle();
				resolve(candidates.find((c) => c.serverConnection === connection) as ComfyUiClient);
			};
			const held = slotScheduler().hold(
				candidates.map((c) => c.serverConnection),
				this.slotsPerServer,
				onGrant,
				budget.seq,
			);
			budget.seq = held.seq;
			if (settled) return;
			handle = held.handle;
			budget.signal?.addEventListener('abort', onAbort, { once: true });
			if (budget.holdDeadline !== undefined) {
				timer = setTimeout(() => end('timeout'), Math.max(0, budget.holdDeadline - Date.now()));
				timer.unref();
			}
		});
	}

	private endedWhileWaiting(reason: 'cancelled' | 'timeout', budget: RunBudget): ComfyUiError {
		const where = 'it was still waiting for a free server in the pool (every server busy with earlier jobs) and never reached a server';
		if (reason === 'cancelled') {
			return new ComfyUiError('job_cancelled', `ComfyUI job ${budget.promptId} was cancelled: ${where}.`, {
				promptId: budget.promptId,
				requestSent: false,
			});
		}
		const limit = budget.holdDeadline !== undefined ? budget.holdDeadline - budget.startedAt : Date.now() - budget.startedAt;
		return new ComfyUiError('comfyui_timeout', `ComfyUI job ${budget.promptId} did not finish within ${seconds(limit)} s: ${where}.`, {
			promptId: budget.promptId,
			requestSent: false,
			hint: 'Raise the timeout, or add servers to the pool.',
		});
	}

	/** What is left of the run's timeout once it is on `client` (the wait in the pool counts). */
	private remainingWait(client: ComfyUiClient, budget: RunBudget): number | undefined {
		if (budget.timeoutMs !== undefined && finiteTimeout(budget.timeoutMs) === undefined) return budget.timeoutMs;
		const total = budget.timeoutMs ?? client.config.defaultTimeoutMs;
		return Math.max(1, total - (Date.now() - budget.startedAt));
	}

	/** A timeout on the server after a long wait in the pool says so (its message counts only the time on the server). */
	private withWaitNote(error: unknown, client: ComfyUiClient, budget: RunBudget): unknown {
		if (!isComfyUiError(error, 'comfyui_timeout') || budget.heldMs < 1_000) return error;
		const total = budget.timeoutMs ?? client.config.defaultTimeoutMs;
		const hint = error.hint;
		return new ComfyUiError(
			'comfyui_timeout',
			`${error.message} Before that it waited ${seconds(budget.heldMs)} s in the pool for a free server; the ${seconds(total)} s timeout counts both.`,
			{ server: error.server, promptId: error.promptId, cancelAction: error.cancelAction, upstreamStatus: error.upstreamStatus, hint, cause: error },
		);
	}

	async health(): Promise<ServerHealth[]> {
		return Promise.all(
			this.clients.map(async (client) => {
				const connection = client.serverConnection;
				const meanJobMs = meanJobTime(connection);
				try {
					const remaining = await client.getQueueRemaining({ timeoutMs: this.probeTimeoutMs });
					recordProbedQueue(connection, remaining);
					connection.markUp();
					return { server: client.server, up: true, queueRemaining: remaining, activeJobs: connection.activeJobs, meanJobMs };
				} catch (error) {
					return {
						server: client.server,
						up: false,
						activeJobs: connection.activeJobs,
						meanJobMs,
						lastError: error instanceof Error ? error.message : String(error),
					};
				}
			}),
		);
	}
}
