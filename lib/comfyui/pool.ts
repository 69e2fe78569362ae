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
import { ComfyUiError } from './errors';

export interface ComfyServerPoolOptions {
	/** How long an unreachable server is skipped (default 15 s). */
	downForMs?: number;
	/** Deadline of the queue-depth probe of a server whose WebSocket is not open (default 3 s). */
	probeTimeoutMs?: number;
}

export interface ServerHealth {
	server: string;
	up: boolean;
	/** pending + running as the server reports it (WS status or GET /prompt), when known. */
	queueRemaining?: number;
	/** Jobs this process has on it and has not seen finish. */
	activeJobs: number;
	lastError?: string;
}

interface Candidate {
	client: ComfyUiClient;
	load: number;
	index: number;
}

/**
 * Several ComfyUI servers behind one interface. Each job goes to the healthy server with the
 * shortest queue; its socket, polling and downloads then stay on that server (ComfyUI state is
 * per server). A server that cannot be reached is marked down for a while and skipped; a submit
 * that could not reach its server is moved to the next one.
 *
 * Health marks and load counters live on the per-process server connection, so every pool (one
 * per n8n execution) built from the same credentials shares them.
 */
export class ComfyServerPool {
	readonly clients: ComfyUiClient[];
	private readonly downForMs: number;
	private readonly probeTimeoutMs: number;
	private roundRobin = 0;

	constructor(configs: Array<ComfyServerConfig | ComfyServerConfigInput | string>, options: ComfyServerPoolOptions = {}) {
		if (configs.length === 0) throw new Error('A ComfyUI server pool needs at least one server');
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
	}

	/** The client of one server (to get a result, download or cancel on the server that ran the job). */
	client(server: string): ComfyUiClient | undefined {
		const normalized = server.replace(/\/+$/, '');
		return this.clients.find((c) => c.server === normalized);
	}

	/**
	 * The healthy server with the least load: max(server-reported queue_remaining, our own active
	 * jobs there), ties broken by our own jobs and then round robin. Counting our own jobs makes a
	 * burst of simultaneous picks spread out before the servers report their queues.
	 */
	async pick(exclude: ReadonlySet<ComfyUiClient> = new Set()): Promise<ComfyUiClient> {
		const now = Date.now();
		const untried = this.clients.filter((c) => !exclude.has(c));
		let eligible = untried.filter((c) => c.serverConnection.downUntil <= now);
		// All marked down: probe them anyway rather than fail without asking (one may be back).
		if (eligible.length === 0) eligible = untried;
		const probed = await Promise.all(eligible.map((client, index) => this.probe(client, index)));
		const candidates = probed.filter((c): c is Candidate => c !== undefined);
		if (candidates.length === 0) {
			const reasons = this.clients.map((c) => `${c.server}: ${c.serverConnection.lastFailure?.message ?? 'skipped'}`);
			throw new ComfyUiError('unreachable', `No ComfyUI server of the pool is reachable:\n${reasons.join('\n')}`, {
				requestSent: false,
			});
		}
		// Loads are re-read here, synchronously, because other picks may have placed jobs meanwhile.
		const start = this.roundRobin++ % candidates.length;
		let best: Candidate | undefined;
		let bestLoad = Infinity;
		let bestActive = Infinity;
		for (let i = 0; i < candidates.length; i++) {
			const candidate = candidates[(start + i) % candidates.length];
			const connection = candidate.client.serverConnection;
			const load = Math.max(candidate.load, connection.activeJobs);
			if (load < bestLoad || (load === bestLoad && connection.activeJobs < bestActive)) {
				best = candidate;
				bestLoad = load;
				bestActive = connection.activeJobs;
			}
		}
		const chosen = (best as Candidate).client;
		chosen.serverConnection.activeJobs++;
		return chosen;
	}

	private async probe(client: ComfyUiClient, index: number): Promise<Candidate | undefined> {
		const connection = client.serverConnection;
		const events = connection.events;
		// The WS status message is broadcast on every queue change: while open it is the live depth.
		const open = await events.ensureOpen(Math.min(client.config.wsOpenTimeoutMs, this.probeTimeoutMs));
		if (open && events.queueRemaining !== undefined) {
			connection.markUp();
			return { client, load: events.queueRemaining, index };
		}
		try {
			const remaining = await client.getQueueRemaining({ timeoutMs: this.probeTimeoutMs });
			connection.markUp();
			return { client, load: remaining, index };
		} catch (error) {
			if (error instanceof ComfyUiError && (error.code === 'unreachable' || error.code === 'server_error')) {
				connection.markDown(error, this.downForMs);
				return undefined;
			}
			// auth or protocol trouble: a real problem the user must see, not a reason to hide the server.
			throw error;
		}
	}

	/** Submits on the least-loaded server; a server that cannot be reached is skipped for the next one. */
	async submit(workflow: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
		const { client, result } = await this.placeJob((candidate) =>
			candidate.submit(workflow, { unavailableRetries: 0, ...options }),
		);
		// From here on the server's own queue_remaining counts this job.
		client.serverConnection.activeJobs--;
		return result;
	}

	/** run() on the least-loaded healthy server; result.server tells which one ran it. */
	async run(workflowInput: unknown, options: RunOptions = {}): Promise<CompletionResult> {
		const { workflow, promptId, runFolder } = prepareRun(workflowInput, options);
		const { client, result: submitted } = await this.placeJob((candidate) =>
			candidate.submit(workflow, { unavailableRetries: 0, ...options, promptId, runFolder }),
		);
		try {
			return await client.waitForCompletion(submitted.promptId, options);
		} finally {
			client.serverConnection.activeJobs--;
		}
	}

	/** Streams an output from the server that produced it (`result.server`). */
	download(server: string, file: DownloadableFile, options: DownloadOptions = {}): Promise<DownloadedFile> {
		const client = this.client(server);
		if (!client) {
			return Promise.reject(new ComfyUiError('bad_response', `${server} is not a server of this pool`, { server }));
		}
		return client.download(file, options);
	}

	/** Picks, submits, moves on when the server cannot be reached. On success the pick's activeJobs count is the caller's to release. */
	private async placeJob<T>(submit: (client: ComfyUiClient) => Promise<T>): Promise<{ client: ComfyUiClient; result: T }> {
		const tried = new Set<ComfyUiClient>();
		let lastError: unknown;
		while (tried.size < this.clients.length) {
			let client: ComfyUiClient;
			try {
				client = await this.pick(tried);
			} catch (error) {
				throw lastError ?? error;
			}
			tried.add(client);
			try {
				return { client, result: await submit(client) };
			} catch (error) {
				client.serverConnection.activeJobs--;
				const movable =
					error instanceof ComfyUiError &&
					((error.code === 'unreachable' && !error.requestSent) || (error.code === 'server_error' && error.httpStatus === 503));
				if (!movable) throw error;
				client.serverConnection.markDown(error as Error, this.downForMs);
				lastError = error;
			}
		}
		throw lastError;
	}

	async health(): Promise<ServerHealth[]> {
		return Promise.all(
			this.clients.map(async (client) => {
				const connection = client.serverConnection;
				try {
					const remaining = await client.getQueueRemaining({ timeoutMs: this.probeTimeoutMs });
					connection.markUp();
					return { server: client.server, up: true, queueRemaining: remaining, activeJobs: connection.activeJobs };
				} catch (error) {
					return {
						server: client.server,
						up: false,
						activeJobs: connection.activeJobs,
						lastError: error instanceof Error ? error.message : String(error),
					};
				}
			}),
		);
	}
}
