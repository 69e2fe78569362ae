import { randomUUID } from 'node:crypto';

import WebSocket from 'ws';

import type { ComfyServerConfig } from './config';
import type { ComfyHttp } from './http';

/** One JSON message from ComfyUI's WebSocket (`{type, data}`), stamped on arrival. */
export interface ComfyEvent {
	type: string;
	data: Record<string, unknown>;
	receivedAt: number;
}

export interface PromptSubscriber {
	onEvent(event: ComfyEvent): void;
	/** The socket is back after a drop. ComfyUI replays nothing, so the subscriber must re-check /history. */
	onReconnect?(): void;
	/** The socket went down; events may be missed until onReconnect. */
	onDisconnect?(): void;
}

export type StreamState = 'idle' | 'connecting' | 'open' | 'closed';

/** Most unsubscribed prompts whose events are kept while a submit is in flight (old servers, §6.1). */
const MAX_BUFFERED_PROMPTS = 64;
const MAX_BUFFERED_EVENTS = 500;
const IDLE_CLOSE_MS = 30_000;

/**
 * The one WebSocket this process keeps to one ComfyUI server. All prompts submitted from this
 * process carry its clientId, so ComfyUI sends their events here; they are routed by prompt_id.
 * The client pings (ComfyUI never does), a missing pong or a drop reconnects with exponential
 * backoff + jitter under the same clientId, and subscribers are told so they can re-check
 * /history: events sent while the socket was down are gone for good.
 */
export class EventStream {
	clientId: string = randomUUID();
	state: StreamState = 'idle';
	/** queue_remaining (pending + running) from the last `status` message, and when it came. */
	queueRemaining?: number;
	queueRemainingAt = 0;
	lastError?: Error;
	/** How many times the socket came back after a drop (tests, diagnostics). */
	reconnects = 0;

	private socket?: WebSocket;
	private readonly subscribers = new Map<string, Set<PromptSubscriber>>();
	private subscriberCount = 0;
	private readonly buffered = new Map<string, ComfyEvent[]>();
	private pendingSubmits = 0;
	private openWaiters: Array<(open: boolean) => void> = [];
	private attempt = 0;
	private everOpened = false;
	private lastPongAt = 0;
	private pingTimer?: NodeJS.Timeout;
	private reconnectTimer?: NodeJS.Timeout;
	private idleTimer?: NodeJS.Timeout;

	constructor(
		private readonly http: ComfyHttp,
		private readonly config: ComfyServerConfig,
	) {}

	/** Prompts currently listening (diagnostics, tests). */
	get subscriptions(): number {
		return this.subscriberCount;
	}

	get isOpen(): boolean {
		return this.state === 'open';
	}

	/** Opens the socket if needed; resolves true once open, false on failure or after timeoutMs. */
	ensureOpen(timeoutMs: number): Promise<boolean> {
		if (this.state === 'open') return Promise.resolve(true);
		if (this.state === 'closed') return Promise.resolve(false);
		// Several attempts in a row failed (a proxy without WebSocket support?): do not make every
		// submit wait for the next one; the job runs on history polling and picks the socket up later.
		if (this.reconnectTimer && this.attempt >= 2) return Promise.resolve(false);
		if (this.state === 'idle' && !this.reconnectTimer) this.connect();
		return new Promise((resolve) => {
			let settled = false;
			const timer = setTimeout(() => finish(false), timeoutMs);
			timer.unref();
			const finish = (open: boolean): void => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				this.openWaiters = this.openWaiters.filter((w) => w !== finish);
				resolve(open);
			};
			this.openWaiters.push(finish);
		});
	}

	subscribe(promptId: string, subscriber: PromptSubscriber): () => void {
		let set = this.subscribers.get(promptId);
		if (!set) {
			set = new Set();
			this.subscribers.set(promptId, set);
		}
		if (!set.has(subscriber)) {
			set.add(subscriber);
			this.subscriberCount++;
		}
		if (this.idleTimer) {
			clearTimeout(this.idleTimer);
			this.idleTimer = undefined;
		}
		let active = true;
		return () => {
			if (!active) return;
			active = false;
			const current = this.subscribers.get(promptId);
			if (current?.delete(subscriber)) {
				this.subscriberCount--;
				if (current.size === 0) this.subscribers.delete(promptId);
			}
			if (this.subscriberCount === 0) this.scheduleIdleClose();
		};
	}

	/**
	 * Servers older than #8189 ignore our prompt_id; their events carry an id we learn only from the
	 * POST response. While a submit is in flight, events for unknown prompts are kept briefly.
	 */
	beginSubmit(): void {
		this.pendingSubmits++;
	}

	endSubmit(): void {
		this.pendingSubmits = Math.max(0, this.pendingSubmits - 1);
		if (this.pendingSubmits === 0) this.buffered.clear();
	}

	takeBuffered(promptId: string): ComfyEvent[] {
		const events = this.buffered.get(promptId) ?? [];
		this.buffered.delete(promptId);
		return events;
	}

	/** Closes the socket for good (process shutdown, tests). */
	close(): void {
		this.state = 'closed';
		this.clearTimers();
		this.resolveOpenWaiters(false);
		const socket = this.socket;
		this.socket = undefined;
		if (socket) {
			socket.removeAllListeners();
			socket.on('error', () => undefined);
			socket.terminate();
		}
	}

	private connect(): void {
		this.reconnectTimer = undefined;
		if (this.state === 'closed') return;
		this.state = 'connecting';
		let socket: WebSocket;
		try {
			socket = new WebSocket(this.http.wsUrl(this.clientId), this.http.wsOptions());
		} catch (error) {
			this.lastError = error instanceof Error ? error : new Error(String(error));
			this.onSocketGone(undefined);
			return;
		}
		this.socket = socket;
		socket.on('open', () => this.onOpen(socket));
		socket.on('message', (raw, isBinary) => {
			if (!isBinary) this.onMessage(raw);
		});
		socket.on('pong', () => {
			this.lastPongAt = Date.now();
		});
		socket.on('error', (error) => {
			this.lastError = error;
		});
		socket.on('close', () => this.onSocketGone(socket));
	}

	private onOpen(socket: WebSocket): void {
		if (socket !== this.socket) return;
		const isReconnect = this.everOpened;
		this.state = 'open';
		this.everOpened = true;
		this.attempt = 0;
		this.lastError = undefined;
		this.lastPongAt = Date.now();
		this.startPing(socket);
		this.resolveOpenWaiters(true);
		if (isReconnect) {
			this.reconnects++;
			this.forEachSubscriber((s) => s.onReconnect?.());
		}
		if (this.subscriberCount === 0) this.scheduleIdleClose();
	}

	private onSocketGone(socket: WebSocket | undefined): void {
		if (socket && socket !== this.socket) return;
		const wasOpen = this.state === 'open';
		this.socket = undefined;
		if (this.pingTimer) clearInterval(this.pingTimer);
		this.pingTimer = undefined;
		if (this.state === 'closed') return;
		this.state = 'idle';
		// A failed attempt releases the waiters at once: the submit goes on with history polling.
		this.resolveOpenWaiters(false);
		if (wasOpen) this.forEachSubscriber((s) => s.onDisconnect?.());
		if (this.subscriberCount > 0) this.scheduleReconnect();
	}

	private scheduleReconnect(): void {
		if (this.reconnectTimer || this.state === 'closed') return;
		const base = Math.min(
			this.config.reconnectMaxDelayMs,
			this.config.reconnectMinDelayMs * 2 ** Math.min(this.attempt, 16),
		);
		this.attempt++;
		// Full jitter on half the delay: many processes reconnecting after a restart do not stampede.
		const delay = base / 2 + Math.random() * (base / 2);
		this.reconnectTimer = setTimeout(() => this.connect(), delay);
		this.reconnectTimer.unref();
	}

	private startPing(socket: WebSocket): void {
		if (this.pingTimer) clearInterval(this.pingTimer);
		this.pingTimer = setInterval(() => {
			if (socket !== this.socket || socket.readyState !== WebSocket.OPEN) return;
			if (Date.now() - this.lastPongAt > this.config.pingIntervalMs + this.config.pongTimeoutMs) {
				this.lastError = new Error('WebSocket pong timeout');
				socket.terminate();
				return;
			}
			socket.ping();
		}, this.config.pingIntervalMs);
		this.pingTimer.unref();
	}

	private scheduleIdleClose(): void {
		if (this.idleTimer || this.state === 'closed') return;
		this.idleTimer = setTimeout(() => {
			this.idleTimer = undefined;
			if (this.subscriberCount > 0 || this.pendingSubmits > 0) return;
			const socket = this.socket;
			this.socket = undefined;
			if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
			this.reconnectTimer = undefined;
			if (this.pingTimer) clearInterval(this.pingTimer);
			this.pingTimer = undefined;
			this.state = 'idle';
			this.everOpened = false;
			if (socket) {
				socket.removeAllListeners();
				socket.on('error', () => undefined);
				socket.close();
			}
		}, IDLE_CLOSE_MS);
		this.idleTimer.unref();
	}

	private onMessage(raw: WebSocket.RawData): void {
		let message: { type?: unknown; data?: unknown };
		try {
			message = JSON.parse(raw.toString());
		} catch {
			return;
		}
		if (typeof message.type !== 'string' || !message.data || typeof message.data !== 'object') return;
		const event: ComfyEvent = {
			type: message.type,
			data: message.data as Record<string, unknown>,
			receivedAt: Date.now(),
		};
		if (event.type === 'status') {
			this.onStatus(event.data);
			return;
		}
		const promptId = event.data.prompt_id;
		if (typeof promptId !== 'string' && typeof promptId !== 'number') return;
		const id = String(promptId);
		const set = this.subscribers.get(id);
		if (set) {
			for (const subscriber of [...set]) {
				try {
					subscriber.onEvent(event);
				} catch {
					// A subscriber's bug must not break routing for the others.
				}
			}
			return;
		}
		if (this.pendingSubmits > 0) {
			let list = this.buffered.get(id);
			if (!list) {
				if (this.buffered.size >= MAX_BUFFERED_PROMPTS) {
					const oldest = this.buffered.keys().next().value;
					if (oldest !== undefined) this.buffered.delete(oldest);
				}
				list = [];
				this.buffered.set(id, list);
			}
			if (list.length < MAX_BUFFERED_EVENTS) list.push(event);
		}
	}

	private onStatus(data: Record<string, unknown>): void {
		const status = data.status as { exec_info?: { queue_remaining?: unknown } } | undefined;
		const remaining = status?.exec_info?.queue_remaining;
		if (typeof remaining === 'number') {
			this.queueRemaining = remaining;
			this.queueRemainingAt = Date.now();
		}
		// A server that ignored our clientId assigned its own; our POSTs must then use that one.
		if (typeof data.sid === 'string' && data.sid !== this.clientId) this.clientId = data.sid;
	}

	private forEachSubscriber(fn: (s: PromptSubscriber) => void): void {
		for (const set of [...this.subscribers.values()]) {
			for (const subscriber of [...set]) {
				try {
					fn(subscriber);
				} catch {
					// see onMessage
				}
			}
		}
	}

	private resolveOpenWaiters(open: boolean): void {
		const waiters = this.openWaiters;
		this.openWaiters = [];
		for (const waiter of waiters) waiter(open);
	}

	private clearTimers(): void {
		if (this.pingTimer) clearInterval(this.pingTimer);
		if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
		if (this.idleTimer) clearTimeout(this.idleTimer);
		this.pingTimer = this.reconnectTimer = this.idleTimer = undefined;
	}
}
