import { connectionKey, type ComfyServerConfig } from './config';
import { EventStream } from './events';
import { ComfyHttp } from './http';
import { PromptRegistry } from './prompts';

/** GET /queue as ComfyUI sends it: 5-tuples `[number, prompt_id, prompt, extra_data, outputs]`. */
export interface RawQueue {
	queue_running?: unknown[][];
	queue_pending?: unknown[][];
}

/** How recent a /queue answer may be to be shared between in-flight prompts (it carries every graph). */
const QUEUE_SHARE_MS = 250;

/**
 * Everything this process keeps per ComfyUI server: the HTTP agent, the WebSocket, a shared
 * /queue read, and what the pool knows about the server's health and our own load on it.
 * It is a cache (module scope by design): losing it costs a reconnect, never a job.
 */
export class ServerConnection {
	readonly http: ComfyHttp;
	readonly events: EventStream;
	/** Prompts this process submitted and is (or will be) waiting for. */
	readonly prompts: PromptRegistry;
	/** Jobs this process has placed on the server and not yet seen finish (pool balancing). */
	activeJobs = 0;
	/** The pool skips the server until then (epoch ms). */
	downUntil = 0;
	lastFailure?: Error;
	private queueRead?: { at: number; promise: Promise<RawQueue> };

	constructor(
		readonly key: string,
		readonly config: ComfyServerConfig,
	) {
		this.http = new ComfyHttp(config);
		this.events = new EventStream(this.http, config);
		this.prompts = new PromptRegistry(this.events);
	}

	get server(): string {
		return this.config.baseUrl;
	}

	/**
	 * /queue read shared between callers: after a WS reconnect fifty in-flight prompts re-check at
	 * once, and /queue returns every queued graph, so it should be read once. A caller only shares a
	 * read that started at or after `notBefore` (performance.now()): a read from before its prompt
	 * was queued would make a queued prompt look lost.
	 */
	readQueue(notBefore?: number): Promise<RawQueue> {
		const now = performance.now();
		const shared = this.queueRead;
		if (notBefore !== undefined && shared && shared.at >= notBefore && now - shared.at < QUEUE_SHARE_MS) return shared.promise;
		const promise = this.http.json<RawQueue>('GET', '/queue');
		const entry = { at: now, promise };
		this.queueRead = entry;
		promise.catch(() => {
			if (this.queueRead === entry) this.queueRead = undefined;
		});
		return promise;
	}

	markDown(error: Error, forMs: number): void {
		this.lastFailure = error;
		this.downUntil = Date.now() + forMs;
	}

	markUp(): void {
		this.downUntil = 0;
	}

	async close(): Promise<void> {
		this.events.close();
		await this.http.close();
	}
}

const connections = new Map<string, ServerConnection>();

export function getServerConnection(config: ComfyServerConfig): ServerConnection {
	const key = connectionKey(config);
	let connection = connections.get(key);
	if (!connection) {
		connection = new ServerConnection(key, config);
		connections.set(key, connection);
	}
	return connection;
}

/** Closes every socket and agent this process holds to ComfyUI servers (tests, shutdown). */
export async function closeAllComfyConnections(): Promise<void> {
	const all = [...connections.values()];
	connections.clear();
	await Promise.all(all.map((c) => c.close()));
}
