/**
 * The ComfyUI simulator: HTTP routes of server.py (also under /api), the WebSocket of
 * websocket_handler, PromptQueue (a Python heapq), and a single prompt worker that plays
 * execution.py's event sequence. See /work/shared/research/comfyui-protocol.md.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { posix } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';

import { BASE_DIRS, BlockPool, VirtualFiles, type FolderType } from './files';
import { parseMultipart } from './multipart';
import { TINY_PREVIEW_JPEG, colourFromSeed, encodeSolidPng, readPngSize } from './png';
import { PyFloat, deepCopy, pyJsonDumps, toNumber } from './pyjson';
import {
	NODE_REGISTRY,
	PyException,
	nodeInfo,
	validatePrompt,
	type ExecContext,
	type FileRef,
	type ImageValue,
	type NodeDef,
	type RegistryEnv,
	type SimValue,
	type UiOutput,
} from './registry';
import type {
	ComfySim,
	ComfySimFaults,
	ComfySimOptions,
	ComfySimResolvedOptions,
	SimFileRef,
	SimHistoryEntry,
	SimInterrupt,
	SimRequestRecord,
	SimSentFrame,
	SimSubmission,
	SimSubmittedPrompt,
} from './types';

const DEFAULT_CHECKPOINTS = ['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'];
const SENSITIVE_EXTRA_DATA_KEYS = ['auth_token_comfy_org', 'api_key_comfy_org'];
const OOM_TIPS =
	'This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.';
const OOM_MESSAGE =
	'Allocation on device 0 would exceed allowed memory. (out of memory)\nCurrently allocated     : 21.32 GiB\nRequested               : 4.50 GiB\nDevice limit            : 23.99 GiB\nFree (according to CUDA): 0 bytes\nPyTorch limit (set by user-supplied memory fraction)\n                        : 17179869184.00 GiB';

/** Thrown inside a run when a restart/stop abandons it. */
class RunAbandoned extends Error {}
/** comfy.model_management.InterruptProcessingException */
class InterruptProcessing extends Error {}

interface QueueItem {
	number: number;
	numberIsFloat: boolean;
	promptId: string;
	prompt: Record<string, unknown>;
	extraData: Record<string, unknown>;
	outputs: string[];
	sensitive: Record<string, unknown>;
}

interface HistoryRecord {
	prompt: QueueItem;
	outputs: Record<string, UiOutput>;
	status: { status_str: 'success' | 'error'; completed: boolean; messages: Array<[string, Record<string, unknown>]> };
	meta: Record<string, Record<string, unknown>>;
}

interface SocketState {
	ws: WebSocket;
	sid: string;
	featureFlags: Record<string, unknown>;
	firstMessage: boolean;
	stalled: boolean;
	answerPingsWhenStalled: boolean;
	runFrames: number;
}

interface CacheEntry {
	outputs: SimValue[];
	ui?: { output: UiOutput; meta: Record<string, unknown> };
}

interface HttpResult {
	status: number;
	headers?: Record<string, string>;
	body?: string | Buffer;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, params: Record<string, string>) => Promise<HttpResult | null>;

interface Route {
	method: 'GET' | 'POST';
	pattern: RegExp;
	keys: string[];
	handler: Handler;
}

function jsonResult(status: number, value: unknown): HttpResult {
	return { status, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: pyJsonDumps(value) };
}

function textResult(status: number, text: string): HttpResult {
	return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: text };
}

const EMPTY_200: HttpResult = { status: 200, headers: { 'Content-Type': 'application/octet-stream' }, body: '' };
const SERVER_ERROR: HttpResult = textResult(500, '500 Internal Server Error\n\nServer got itself in trouble');

class BodyTooLarge extends Error {
	constructor(readonly limit: number, readonly actual: number) {
		super('body too large');
	}
}
class BadJson extends Error {}

const MIME_BY_EXTENSION: Record<string, string> = {
	'.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
	'.mp4': 'video/mp4', '.webm': 'video/webm', '.mov': 'video/quicktime', '.flac': 'audio/flac', '.wav': 'audio/x-wav',
	'.mp3': 'audio/mpeg', '.ogg': 'audio/ogg', '.txt': 'text/plain', '.json': 'application/json', '.glb': 'model/gltf-binary',
	'.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
};
const FORCED_OCTET = new Set(['text/html', 'text/html-sandboxed', 'application/xhtml+xml', 'text/javascript', 'text/css']);

function isLoopbackHost(host: string | undefined): boolean {
	if (!host) return false;
	const h = host.replace(/^\[|\]$/g, '');
	return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

function splitHostPort(hostport: string): { hostname: string; port: string | null } {
	const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostport);
	if (!match) return { hostname: hostport, port: null };
	return { hostname: match[1].replace(/^\[|\]$/g, ''), port: match[2] ?? null };
}

/** Python os.path.normpath for posix paths ("" → "."). */
function normpath(p: string): string {
	if (p === '') return '.';
	const normalised = posix.normalize(p);
	return normalised.length > 1 ? normalised.replace(/\/$/, '') : normalised;
}

/** strftime-like fields for %year% etc. */
function pad2(n: number): string {
	return String(n).padStart(2, '0');
}

export class ComfySimServer implements ComfySim {
	faults: ComfySimFaults;
	readonly options: ComfySimResolvedOptions;
	readonly submitted: SimSubmittedPrompt[] = [];
	readonly submissions: SimSubmission[] = [];
	readonly interrupts: SimInterrupt[] = [];
	readonly deletedFromQueue: string[] = [];
	readonly requests: SimRequestRecord[] = [];
	readonly sentFrames: SimSentFrame[] = [];

	private server: Server;
	private readonly wss: WebSocketServer;
	private readonly connections = new Set<Socket>();
	private readonly files = new VirtualFiles();
	private readonly routes: Route[] = [];
	private listeningPort = 0;

	// PromptServer / PromptQueue state (all forgotten on restart)
	private sockets = new Map<string, SocketState>();
	private heap: QueueItem[] = [];
	private running: { taskId: number; item: QueueItem } | null = null;
	private taskCounter = 0;
	private historyMap = new Map<string, HistoryRecord>();
	private numberCounter = 0;
	private interruptFlag = false;
	private serverClientId: string | null = null;
	private lastNodeId: string | null = null;
	private statusMessages: Array<[string, Record<string, unknown>]> = [];
	private cache = new Map<string, CacheEntry>();
	private jobTimes = new Map<string, { start?: number; end?: number }>();

	private generation = 0;
	private stopped = false;
	private readonly timers = new Map<NodeJS.Timeout, () => void>();
	private wakeWorker: (() => void) | null = null;
	private idleWaiters: Array<() => void> = [];
	private runFramesActive = false;

	constructor(options: ComfySimOptions = {}) {
		this.options = {
			port: options.port ?? 0,
			host: options.host ?? '127.0.0.1',
			nodeTimeMs: options.nodeTimeMs ?? 5,
			nodeTimes: { ...(options.nodeTimes ?? {}) },
			checkpoints: [...(options.checkpoints ?? DEFAULT_CHECKPOINTS)],
			maxUploadBytes: options.maxUploadBytes ?? 100 * 1024 * 1024,
			maxHistorySize: options.maxHistorySize ?? 10000,
			previewMethod: options.previewMethod ?? 'none',
			cache: options.cache ?? true,
			comfyuiVersion: options.comfyuiVersion ?? '0.8.0',
			jobsApi: options.jobsApi ?? true,
			log: options.log ?? (() => undefined),
		};
		this.faults = { ...(options.faults ?? {}) };
		this.server = this.createHttpServer();
		this.wss = new WebSocketServer({ noServer: true, autoPong: false, perMessageDeflate: false });
		this.defineRoutes();
	}

	get port(): number {
		return this.listeningPort;
	}
	get url(): string {
		return `http://${this.hostForUrl()}:${this.listeningPort}`;
	}
	get wsUrl(): string {
		return `ws://${this.hostForUrl()}:${this.listeningPort}`;
	}
	private hostForUrl(): string {
		const host = this.options.host === '0.0.0.0' || this.options.host === '::' ? '127.0.0.1' : this.options.host;
		return host.includes(':') ? `[${host}]` : host;
	}

	// ---------------------------------------------------------------------------------------
	// Lifecycle

	async start(): Promise<void> {
		await this.listen(this.options.port);
		this.startWorker();
	}

	private createHttpServer(): Server {
		const server = createServer((req, res) => {
			this.handleHttp(req, res).catch((error: unknown) => {
				this.options.log(`handler crashed: ${String(error)}`);
				if (!res.headersSent) this.finish(req, res, SERVER_ERROR);
				else res.destroy();
			});
		});
		server.on('connection', (socket) => {
			this.connections.add(socket);
			socket.on('close', () => this.connections.delete(socket));
		});
		server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket as Socket, head));
		server.keepAliveTimeout = 5000;
		return server;
	}

	private listen(port: number): Promise<void> {
		return new Promise((resolve, reject) => {
			const onError = (error: Error) => reject(error);
			this.server.once('error', onError);
			this.server.listen(port, this.options.host, () => {
				this.server.off('error', onError);
				const address = this.server.address();
				this.listeningPort = typeof address === 'object' && address ? address.port : port;
				resolve();
			});
		});
	}

	private async closeEverything(): Promise<void> {
		this.generation++;
		for (const [timer, cancel] of this.timers) {
			clearTimeout(timer);
			cancel();
		}
		this.timers.clear();
		for (const state of this.sockets.values()) state.ws.terminate();
		for (const client of this.wss.clients) client.terminate();
		this.sockets.clear();
		const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
		for (const socket of this.connections) socket.destroy();
		this.connections.clear();
		await closed;
		this.wakeWorker?.();
	}

	private forgetState(): void {
		this.heap = [];
		this.running = null;
		this.historyMap = new Map();
		this.numberCounter = 0;
		this.interruptFlag = false;
		this.serverClientId = null;
		this.lastNodeId = null;
		this.statusMessages = [];
		this.cache = new Map();
		this.jobTimes = new Map();
		this.runFramesActive = false;
		this.files.clear('temp');
		this.resolveIdle();
	}

	async stop(): Promise<void> {
		if (this.stopped) return;
		this.stopped = true;
		await this.closeEverything();
		this.wss.close();
		this.forgetState();
	}

	async restart(options: { downtimeMs?: number } = {}): Promise<void> {
		if (this.stopped) throw new Error('simulator stopped');
		this.options.log('restarting');
		await this.closeEverything();
		this.forgetState();
		this.server = this.createHttpServer();
		const downtime = options.downtimeMs ?? 0;
		if (downtime > 0) await new Promise((resolve) => setTimeout(resolve, downtime));
		if (this.stopped) return;
		await this.listen(this.listeningPort);
		this.startWorker();
	}

	setNodeTime(classTypeOrNodeId: string, ms: number): void {
		this.options.nodeTimes[classTypeOrNodeId] = ms;
	}

	// ---------------------------------------------------------------------------------------
	// Inspection

	queueLength(): number {
		return this.heap.length + (this.running ? 1 : 0);
	}

	queue(): { running: string[]; pending: string[] } {
		return { running: this.running ? [this.running.item.promptId] : [], pending: this.heap.map((item) => item.promptId) };
	}

	history(): Record<string, SimHistoryEntry> {
		return JSON.parse(pyJsonDumps(this.historyJson())) as Record<string, SimHistoryEntry>;
	}

	clientIds(): string[] {
		return [...this.sockets.keys()];
	}

	idle(): Promise<void> {
		if (this.queueLength() === 0) return Promise.resolve();
		return new Promise((resolve) => this.idleWaiters.push(resolve));
	}

	private resolveIdle(): void {
		if (this.queueLength() !== 0) return;
		const waiters = this.idleWaiters;
		this.idleWaiters = [];
		for (const resolve of waiters) resolve();
	}

	private refPath(ref: SimFileRef): { type: FolderType; path: string } {
		const type = ref.type ?? 'output';
		const path = ref.subfolder ? posix.join(ref.subfolder, ref.filename) : ref.filename;
		return { type, path };
	}

	addFile(ref: SimFileRef, content: Buffer | { sizeBytes: number; header?: Buffer }): void {
		const { type, path } = this.refPath(ref);
		if (Buffer.isBuffer(content)) this.files.put(type, path, content);
		else this.files.putGenerated(type, path, content.sizeBytes, content.header ?? Buffer.alloc(0));
	}

	readFile(ref: SimFileRef): Promise<Buffer | null> {
		const { type, path } = this.refPath(ref);
		return this.files.read(type, path);
	}

	fileSha256(ref: SimFileRef): Promise<string | null> {
		const { type, path } = this.refPath(ref);
		return this.files.sha256(type, path);
	}

	fileExists(ref: SimFileRef): boolean {
		const { type, path } = this.refPath(ref);
		return this.files.exists(type, path);
	}

	dropWebSockets(clientId?: string): void {
		for (const state of [...this.sockets.values()]) {
			if (clientId === undefined || state.sid === clientId) state.ws.terminate();
		}
	}

	stallConnectedSockets(options: { answerPings?: boolean } = {}): void {
		for (const state of this.sockets.values()) {
			state.stalled = true;
			state.answerPingsWhenStalled = options.answerPings ?? true;
		}
	}

	sendProgressText(nodeId: string, text: string, clientId: string | null = this.serverClientId): void {
		const nodeBytes = Buffer.from(nodeId, 'utf8');
		const header = Buffer.alloc(4);
		header.writeUInt32BE(nodeBytes.length, 0);
		this.sendBinary(3, Buffer.concat([header, nodeBytes, Buffer.from(text, 'utf8')]), clientId);
	}

	// ---------------------------------------------------------------------------------------
	// WebSocket

	private sendFrame(state: SocketState, payload: string | Buffer, type: string, promptId?: string): void {
		if (this.faults.stallWs || state.stalled) return;
		if (state.ws.readyState !== state.ws.OPEN) return;
		state.ws.send(payload, { binary: typeof payload !== 'string' }, () => undefined);
		this.sentFrames.push({ sid: state.sid, type, promptId, at: Date.now() });
		if (this.runFramesActive) {
			state.runFrames++;
			const limit = this.faults.dropWsAfterEvents;
			if (limit !== undefined && state.runFrames >= limit) {
				this.faults.dropWsAfterEvents = undefined;
				this.options.log(`dropping socket ${state.sid} after ${state.runFrames} frames`);
				// Let the frame leave first, then cut the TCP connection without a close frame.
				setImmediate(() => state.ws.terminate());
			}
		}
	}

	/** send_sync(event, data, sid): to one sid, or to every registered socket when sid is null. */
	private send(type: string, data: Record<string, unknown>, sid: string | null): void {
		const payload = pyJsonDumps({ type, data });
		const promptId = typeof data.prompt_id === 'string' ? data.prompt_id : undefined;
		if (sid === null) {
			for (const state of [...this.sockets.values()]) this.sendFrame(state, payload, type, promptId);
		} else {
			const state = this.sockets.get(sid);
			if (state) this.sendFrame(state, payload, type, promptId);
		}
	}

	private sendBinary(eventType: number, data: Buffer, sid: string | null): void {
		const header = Buffer.alloc(4);
		header.writeUInt32BE(eventType, 0);
		const payload = Buffer.concat([header, data]);
		const targets = sid === null ? [...this.sockets.values()] : this.sockets.has(sid) ? [this.sockets.get(sid) as SocketState] : [];
		for (const state of targets) this.sendFrame(state, payload, `binary:${eventType}`);
	}

	private queueInfo(): Record<string, unknown> {
		return { exec_info: { queue_remaining: this.queueLength() } };
	}

	/** server.queue_updated(): status broadcast. */
	private queueUpdated(): void {
		this.send('status', { status: this.queueInfo() }, null);
		this.resolveIdle();
	}

	private serverFeatures(): Record<string, unknown> {
		return { supports_preview_metadata: true, max_upload_size: this.options.maxUploadBytes, extension: { manager: { supports_v4: true } } };
	}

	private handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
		const url = new URL(req.url ?? '/', 'http://localhost');
		const reject = (status: number, reason: string, headers: Record<string, string> = {}, body = '') => {
			this.record(req, status);
			const lines = [`HTTP/1.1 ${status} ${reason}`, 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`];
			for (const [key, value] of Object.entries(headers)) lines.push(`${key}: ${value}`);
			socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
		};
		const auth = this.checkAuth(req, url);
		if (auth) {
			reject(auth.status, auth.status === 302 ? 'Found' : 'Unauthorized', auth.headers ?? {}, typeof auth.body === 'string' ? auth.body : '');
			return;
		}
		if (url.pathname !== '/ws' && url.pathname !== '/api/ws') {
			reject(404, 'Not Found', { 'Content-Type': 'text/plain; charset=utf-8' }, '404: Not Found');
			return;
		}
		if (this.originForbidden(req)) {
			reject(403, 'Forbidden');
			return;
		}
		this.wss.handleUpgrade(req, socket, head, (ws) => {
			this.record(req, 101);
			this.onConnection(ws, url);
		});
	}

	private onConnection(ws: WebSocket, url: URL): void {
		let sid = url.searchParams.get('clientId') ?? '';
		if (sid) this.sockets.delete(sid);
		else sid = randomUUID().replace(/-/g, '');
		const state: SocketState = { ws, sid, featureFlags: {}, firstMessage: true, stalled: false, answerPingsWhenStalled: true, runFrames: 0 };
		this.sockets.set(sid, state);
		const generation = this.generation;
		ws.on('ping', (data) => {
			const stalled = this.faults.stallWs || state.stalled;
			const answer = !stalled || (state.stalled ? state.answerPingsWhenStalled : !this.faults.stallWsPongs);
			if (answer && ws.readyState === ws.OPEN) ws.pong(data);
		});
		ws.on('message', (data, isBinary) => {
			if (isBinary) return;
			try {
				const message = JSON.parse(data.toString()) as { type?: unknown; data?: unknown };
				if (state.firstMessage && message && message.type === 'feature_flags') {
					state.featureFlags = (message.data && typeof message.data === 'object' ? message.data : {}) as Record<string, unknown>;
					this.send('feature_flags', this.serverFeatures(), sid);
				}
				state.firstMessage = false;
			} catch {
				// server.py logs the JSONDecodeError and keeps the socket; the first-message window stays open
			}
		});
		ws.on('error', () => undefined);
		ws.on('close', () => {
			// server.py's finally pops the sid even if a newer socket took it over (a real quirk).
			if (generation === this.generation) this.sockets.delete(sid);
		});
		this.send('status', { status: this.queueInfo(), sid }, sid);
		if (this.serverClientId === sid && this.lastNodeId !== null) this.send('executing', { node: this.lastNodeId }, sid);
	}

	// ---------------------------------------------------------------------------------------
	// HTTP plumbing

	private record(req: IncomingMessage, status: number): void {
		this.requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status, headers: { ...req.headers }, at: Date.now() });
	}

	private finish(req: IncomingMessage, res: ServerResponse, result: HttpResult): void {
		this.record(req, result.status);
		const body = result.body ?? '';
		res.writeHead(result.status, { ...(result.headers ?? {}), 'Content-Length': String(Buffer.byteLength(body)), Server: 'Python/3.12 aiohttp/3.12.15' });
		res.end(body);
	}

	private checkAuth(req: IncomingMessage, url: URL): HttpResult | null {
		const auth = this.faults.auth;
		if (!auth) return null;
		const header = req.headers.authorization ?? '';
		switch (auth.type) {
			case 'bearer':
				if (header === `Bearer ${auth.token}`) return null;
				return {
					status: 401,
					headers: { 'WWW-Authenticate': 'Bearer', 'Content-Type': 'text/html' },
					body: '<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
				};
			case 'basic': {
				const expected = 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
				if (header === expected) return null;
				return {
					status: 401,
					headers: { 'WWW-Authenticate': 'Basic realm="ComfyUI"', 'Content-Type': 'text/html' },
					body: '<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
				};
			}
			case 'query':
				if (url.searchParams.get(auth.name ?? 'token') === auth.value) return null;
				return { status: 401, headers: { 'Content-Type': 'application/json' }, body: '{"error": "Unauthorized"}' };
			case 'redirect-login': {
				if (url.pathname === '/login' || url.pathname.startsWith('/login/')) return null;
				if (auth.token !== undefined && (header === `Bearer ${auth.token}` || url.searchParams.get('token') === auth.token)) return null;
				return { status: 302, headers: { Location: '/login', 'Content-Type': 'text/plain; charset=utf-8' }, body: '302: Found' };
			}
		}
		return null;
	}

	/** origin_only_middleware of server.py. */
	private originForbidden(req: IncomingMessage): boolean {
		const hostHeader = req.headers.host;
		const originHeader = req.headers.origin;
		if (!hostHeader || !originHeader) return false;
		let originHost: string;
		let originPort: string | null;
		let originNetloc: string;
		try {
			const parsed = new URL(originHeader);
			originHost = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
			originPort = parsed.port || null;
			originNetloc = parsed.host.toLowerCase();
			// URL drops default ports; urlparse keeps what was written.
			const written = /^[a-z]+:\/\/([^/]*)/i.exec(originHeader);
			if (written) {
				originNetloc = written[1].toLowerCase();
				originPort = splitHostPort(originNetloc).port;
			}
		} catch {
			return false;
		}
		let hostDomain: string | null = hostHeader.toLowerCase();
		const hostParsed = splitHostPort(hostDomain);
		const loopback = isLoopbackHost(hostParsed.hostname);
		let originDomain: string | null = originNetloc;
		if (!originPort) hostDomain = hostParsed.hostname;
		if (!hostParsed.port) originDomain = originHost;
		if (loopback && hostDomain && originDomain && hostDomain !== originDomain) return true;
		return false;
	}

	private readBody(req: IncomingMessage): Promise<Buffer> {
		const limit = this.options.maxUploadBytes;
		const declared = Number(req.headers['content-length'] ?? NaN);
		if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge(limit, declared));
		return new Promise((resolve, reject) => {
			const chunks: Buffer[] = [];
			let total = 0;
			req.on('data', (chunk: Buffer) => {
				total += chunk.length;
				if (total > limit) {
					req.removeAllListeners('data');
					req.resume();
					reject(new BodyTooLarge(limit, total));
					return;
				}
				chunks.push(chunk);
			});
			req.on('end', () => resolve(Buffer.concat(chunks)));
			req.on('error', reject);
		});
	}

	private async readJson(req: IncomingMessage): Promise<unknown> {
		const body = await this.readBody(req);
		try {
			return JSON.parse(body.toString('utf8'));
		} catch {
			throw new BadJson();
		}
	}

	private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const url = new URL(req.url ?? '/', 'http://localhost');
		const auth = this.checkAuth(req, url);
		if (auth) {
			req.resume();
			this.finish(req, res, auth);
			return;
		}
		if (this.originForbidden(req)) {
			req.resume();
			this.finish(req, res, { status: 403, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: '403: Forbidden' });
			return;
		}
		const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
		if (method === 'OPTIONS') {
			req.resume();
			this.finish(req, res, { status: 200, body: '' });
			return;
		}
		const { route, params, pathExists } = this.matchRoute(method, url.pathname);
		if (!route) {
			req.resume();
			this.finish(req, res, pathExists
				? { status: 405, headers: { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD, POST' }, body: '405: Method Not Allowed' }
				: textResult(404, '404: Not Found'));
			return;
		}
		let result: HttpResult | null;
		try {
			result = await route.handler(req, res, url, params);
		} catch (error) {
			if (error instanceof BodyTooLarge) {
				result = textResult(413, `Maximum request body size ${error.limit} exceeded, actual body size ${error.actual}`);
				result.headers = { ...result.headers, Connection: 'close' };
			} else {
				if (!(error instanceof BadJson)) this.options.log(`500 on ${req.method} ${req.url}: ${String(error)}`);
				result = SERVER_ERROR;
			}
		}
		if (result) this.finish(req, res, result);
	}

	private matchRoute(method: string, pathname: string): { route?: Route; params: Record<string, string>; pathExists: boolean } {
		const candidates = [pathname];
		if (pathname.startsWith('/api/')) candidates.push(pathname.slice(4));
		let pathExists = false;
		for (const candidate of candidates) {
			for (const route of this.routes) {
				const match = route.pattern.exec(candidate);
				if (!match) continue;
				pathExists = true;
				if (route.method !== method) continue;
				const params: Record<string, string> = {};
				route.keys.forEach((key, i) => (params[key] = decodeURIComponent(match[i + 1])));
				return { route, params, pathExists };
			}
		}
		return { params: {}, pathExists };
	}

	private addRoute(method: 'GET' | 'POST', path: string, handler: Handler): void {
		const keys: string[] = [];
		const pattern = new RegExp('^' + path.replace(/\{(\w+)\}/g, (_, key: string) => {
			keys.push(key);
			return '([^/]+)';
		}) + '$');
		this.routes.push({ method, pattern, keys, handler });
	}

	// ---------------------------------------------------------------------------------------
	// Routes

	private registryEnv(): RegistryEnv {
		return {
			checkpoints: () => [...this.options.checkpoints],
			inputImages: () =>
				this.files
					.list('input', '')
					.filter((name) => /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i.test(name))
					.sort(),
			annotatedFileExists: (name) => this.annotatedFile(name, 'input') !== null,
		};
	}

	/** folder_paths.annotated_filepath + exists check: "x.png [output]" selects the folder. */
	private annotatedFile(name: string, defaultType: FolderType): { type: FolderType; path: string } | null {
		let type = defaultType;
		let clean = name;
		if (name.endsWith('[output]')) {
			type = 'output';
			clean = name.slice(0, -9);
		} else if (name.endsWith('[input]')) {
			type = 'input';
			clean = name.slice(0, -8);
		} else if (name.endsWith('[temp]')) {
			type = 'temp';
			clean = name.slice(0, -7);
		}
		const absolute = posix.resolve(BASE_DIRS[type], clean);
		const relative = VirtualFiles.relative(type, absolute);
		if (relative === null || !this.files.exists(type, relative)) return null;
		return { type, path: relative };
	}

	private defineRoutes(): void {
		this.addRoute('GET', '/', async () => ({
			status: 200,
			headers: { 'Content-Type': 'text/html; charset=utf-8' },
			body: '<!DOCTYPE html><html><head><title>ComfyUI</title></head><body>ComfyUI SIMULATOR (no GPU, fake images)</body></html>',
		}));
		this.addRoute('GET', '/login', async () => ({
			status: 200,
			headers: { 'Content-Type': 'text/html; charset=utf-8' },
			body: '<!DOCTYPE html><html><head><title>Login</title></head><body><form method="post" action="/login"><input type="password" name="password"></form></body></html>',
		}));
		this.addRoute('GET', '/ws', async () => textResult(400, 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".'));
		this.addRoute('GET', '/prompt', async () => jsonResult(200, this.queueInfo()));
		this.addRoute('POST', '/prompt', (req) => this.postPrompt(req));
		this.addRoute('GET', '/queue', async () =>
			jsonResult(200, {
				queue_running: this.running ? [this.queueTuple(this.running.item)] : [],
				queue_pending: this.heap.map((item) => this.queueTuple(item)),
			}),
		);
		this.addRoute('POST', '/queue', (req) => this.postQueue(req));
		this.addRoute('POST', '/interrupt', (req) => this.postInterrupt(req));
		this.addRoute('POST', '/free', async (req) => {
			await this.readBody(req);
			return EMPTY_200;
		});
		this.addRoute('GET', '/history', async (_req, _res, url) => {
			const maxItemsText = url.searchParams.get('max_items');
			const offsetText = url.searchParams.get('offset');
			const maxItems = maxItemsText === null ? null : this.pyIntParam(maxItemsText);
			let offset = offsetText === null ? -1 : this.pyIntParam(offsetText);
			const entries = [...this.historyMap.keys()];
			if (offset < 0 && maxItems !== null) offset = entries.length - maxItems;
			const out: Record<string, unknown> = {};
			let count = 0;
			for (let i = 0; i < entries.length; i++) {
				if (i >= offset) {
					out[entries[i]] = this.historyEntryJson(this.historyMap.get(entries[i]) as HistoryRecord);
					count++;
					if (maxItems !== null && count >= maxItems) break;
				}
			}
			return jsonResult(200, out);
		});
		this.addRoute('GET', '/history/{prompt_id}', async (_req, _res, _url, params) => {
			const entry = this.historyMap.get(params.prompt_id);
			return jsonResult(200, entry ? { [params.prompt_id]: this.historyEntryJson(entry) } : {});
		});
		this.addRoute('POST', '/history', async (req) => {
			const body = (await this.readJson(req)) as Record<string, unknown>;
			if (body && typeof body === 'object') {
				if ('clear' in body && body.clear) this.historyMap.clear();
				if ('delete' in body) for (const id of body.delete as unknown[]) this.historyMap.delete(String(id));
			}
			return EMPTY_200;
		});
		this.addRoute('GET', '/view', (req, res, url) => this.getView(req, res, url));
		this.addRoute('GET', '/view_metadata/{folder_name}', async () => textResult(404, '404: Not Found'));
		this.addRoute('POST', '/upload/image', (req) => this.postUpload(req, false));
		this.addRoute('POST', '/upload/mask', (req) => this.postUpload(req, true));
		this.addRoute('GET', '/system_stats', async () => jsonResult(200, this.systemStats()));
		this.addRoute('GET', '/features', async () => jsonResult(200, this.serverFeatures()));
		this.addRoute('GET', '/object_info', async () => {
			const env = this.registryEnv();
			const out: Record<string, unknown> = {};
			for (const def of NODE_REGISTRY.values()) out[def.name] = nodeInfo(def, env);
			return jsonResult(200, out);
		});
		this.addRoute('GET', '/object_info/{node_class}', async (_req, _res, _url, params) => {
			const def = NODE_REGISTRY.get(params.node_class);
			return jsonResult(200, def ? { [def.name]: nodeInfo(def, this.registryEnv()) } : {});
		});
		this.addRoute('GET', '/embeddings', async () => jsonResult(200, []));
		this.addRoute('GET', '/extensions', async () => jsonResult(200, []));
		this.addRoute('GET', '/models', async () =>
			jsonResult(200, ['checkpoints', 'loras', 'vae', 'text_encoders', 'diffusion_models', 'clip_vision', 'style_models', 'embeddings', 'diffusers', 'vae_approx', 'controlnet', 'gligen', 'upscale_models', 'hypernetworks', 'photomaker', 'classifiers']),
		);
		this.addRoute('GET', '/models/{folder}', async (_req, _res, _url, params) => {
			if (params.folder === 'checkpoints') return jsonResult(200, this.options.checkpoints);
			if (['loras', 'vae', 'text_encoders', 'diffusion_models', 'embeddings', 'controlnet', 'upscale_models'].includes(params.folder)) return jsonResult(200, []);
			return textResult(404, '404: Not Found');
		});
		this.addRoute('GET', '/api/jobs', async (_req, _res, url) => (this.options.jobsApi ? this.listJobs(url) : textResult(404, '404: Not Found')));
		this.addRoute('GET', '/api/jobs/{job_id}', async (_req, _res, _url, params) => (this.options.jobsApi ? this.getJob(params.job_id) : textResult(404, '404: Not Found')));
	}

	/** int() of a query parameter; a ValueError is an unhandled 500 in server.py. */
	private pyIntParam(text: string): number {
		if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new Error(`invalid literal for int() with base 10: '${text}'`);
		return parseInt(text, 10);
	}

	private systemStats(): Record<string, unknown> {
		const version = this.options.comfyuiVersion;
		const legacyOs = /^0\.[0-3]\./.test(version);
		return {
			system: {
				os: legacyOs ? 'posix' : 'linux',
				ram_total: 67108864000,
				ram_free: 50000000000,
				comfyui_version: version,
				required_frontend_version: '1.35.9',
				installed_templates_version: '0.7.59',
				required_templates_version: '0.7.59',
				python_version: '3.12.3 (main, Nov  6 2025, 13:44:16) [GCC 13.3.0]',
				pytorch_version: '2.8.0+cu128',
				embedded_python: false,
				argv: ['main.py', '--listen', '--port', String(this.listeningPort)],
			},
			devices: [
				{
					name: 'cuda:0 ComfyUI Simulator (no GPU) : cudaMallocAsync',
					type: 'cuda',
					index: 0,
					vram_total: 25393692672,
					vram_free: 23000000000,
					torch_vram_total: 0,
					torch_vram_free: 0,
				},
			],
		};
	}

	// ---------------------------------------------------------------------------------------
	// POST /prompt

	private async postPrompt(req: IncomingMessage): Promise<HttpResult> {
		const fault = this.faults.submitStatus;
		if (fault && (this.faults.submitStatusCount === undefined || this.faults.submitStatusCount > 0)) {
			if (this.faults.submitStatusCount !== undefined) {
				this.faults.submitStatusCount--;
				if (this.faults.submitStatusCount <= 0) {
					this.faults.submitStatus = undefined;
					this.faults.submitStatusCount = undefined;
				}
			}
			const proxyError: HttpResult = {
				status: fault,
				headers: { 'Content-Type': 'text/html' },
				body: fault === 503
					? '<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>'
					: '<html><body><h1>500 Internal Server Error</h1></body></html>',
			};
			if (!this.faults.submitFailAfterQueue) {
				await this.readBody(req).catch(() => undefined);
				this.submissions.push({ status: fault, promptId: null, body: null, at: Date.now() });
				return proxyError;
			}
			await this.postPromptReal(req);
			this.submissions[this.submissions.length - 1].status = fault;
			return proxyError;
		}
		return this.postPromptReal(req);
	}

	private async postPromptReal(req: IncomingMessage): Promise<HttpResult> {
		let json: unknown;
		try {
			json = await this.readJson(req);
		} catch (error) {
			this.submissions.push({ status: error instanceof BodyTooLarge ? 413 : 500, promptId: null, body: null, at: Date.now() });
			throw error;
		}
		const fail500 = (): HttpResult => {
			this.submissions.push({ status: 500, promptId: null, body: json, at: Date.now() });
			return SERVER_ERROR;
		};
		if (json === null || typeof json !== 'object' || Array.isArray(json)) return fail500();
		const body = json as Record<string, unknown>;
		let number: number;
		let numberIsFloat = false;
		if ('number' in body) {
			const parsed = typeof body.number === 'number' ? body.number : typeof body.number === 'string' && body.number.trim() !== '' ? Number(body.number) : NaN;
			if (Number.isNaN(parsed)) return fail500();
			number = parsed;
			numberIsFloat = true;
		} else {
			number = this.numberCounter;
			if ('front' in body && body.front) number = -number;
			this.numberCounter++;
		}
		if (!('prompt' in body)) {
			const response = { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} };
			this.submissions.push({ status: 400, promptId: null, body: json, at: Date.now() });
			return jsonResult(400, response);
		}
		const prompt = body.prompt;
		const promptId = 'prompt_id' in body ? pyStrId(body.prompt_id) : randomUUID();
		const validation = validatePrompt(prompt, body.partial_execution_targets, this.registryEnv());
		if (validation.ok === 'crash') return fail500();
		let extraData: Record<string, unknown> = {};
		if ('extra_data' in body) {
			if (body.extra_data === null || typeof body.extra_data !== 'object' || Array.isArray(body.extra_data)) return fail500();
			extraData = body.extra_data as Record<string, unknown>;
		}
		if ('client_id' in body) extraData.client_id = body.client_id;
		if (validation.ok !== true) {
			const response = { error: validation.error, node_errors: validation.nodeErrors };
			this.submissions.push({ status: 400, promptId, body: json, at: Date.now() });
			return jsonResult(400, response);
		}
		const sensitive: Record<string, unknown> = {};
		for (const key of SENSITIVE_EXTRA_DATA_KEYS) {
			if (key in extraData) {
				sensitive[key] = extraData[key];
				delete extraData[key];
			}
		}
		extraData.create_time = Date.now();
		const item: QueueItem = {
			number,
			numberIsFloat,
			promptId,
			prompt: prompt as Record<string, unknown>,
			extraData,
			outputs: validation.outputs,
			sensitive,
		};
		try {
			this.heapPush(item);
		} catch (error) {
			// heapq compared two equal (number, prompt_id) tuples and reached the prompt dicts.
			this.options.log(`heap push failed: ${String(error)}`);
			return fail500();
		}
		this.submitted.push({
			promptId,
			number,
			clientId: typeof extraData.client_id === 'string' ? extraData.client_id : null,
			prompt: JSON.parse(pyJsonDumps(item.prompt)) as Record<string, unknown>,
			extraData: JSON.parse(pyJsonDumps(extraData)) as Record<string, unknown>,
			sensitive,
			outputsToExecute: [...item.outputs],
			at: Date.now(),
		});
		this.queueUpdated();
		this.wakeWorker?.();
		const response = { prompt_id: promptId, number: numberIsFloat ? new PyFloat(number) : number, node_errors: validation.nodeErrors };
		this.submissions.push({ status: 200, promptId, body: json, at: Date.now() });
		return jsonResult(200, response);
	}

	// ---------------------------------------------------------------------------------------
	// The heap (Python heapq over (number, prompt_id, prompt, ...) tuples)

	private static lessThan(a: QueueItem, b: QueueItem): boolean {
		if (a.number !== b.number) return a.number < b.number;
		if (a.promptId !== b.promptId) return a.promptId < b.promptId;
		throw new PyException('TypeError', "'<' not supported between instances of 'dict' and 'dict'");
	}

	private siftDown(start: number, pos: number): void {
		const heap = this.heap;
		const item = heap[pos];
		while (pos > start) {
			const parentPos = (pos - 1) >> 1;
			const parent = heap[parentPos];
			if (ComfySimServer.lessThan(item, parent)) {
				heap[pos] = parent;
				pos = parentPos;
				continue;
			}
			break;
		}
		heap[pos] = item;
	}

	private siftUp(pos: number): void {
		const heap = this.heap;
		const end = heap.length;
		const start = pos;
		const item = heap[pos];
		let child = 2 * pos + 1;
		while (child < end) {
			const right = child + 1;
			if (right < end && !ComfySimServer.lessThan(heap[child], heap[right])) child = right;
			heap[pos] = heap[child];
			pos = child;
			child = 2 * pos + 1;
		}
		heap[pos] = item;
		this.siftDown(start, pos);
	}

	private heapPush(item: QueueItem): void {
		this.heap.push(item);
		this.siftDown(0, this.heap.length - 1);
	}

	private heapPop(): QueueItem | undefined {
		const last = this.heap.pop();
		if (last === undefined || this.heap.length === 0) return last;
		const top = this.heap[0];
		this.heap[0] = last;
		this.siftUp(0);
		return top;
	}

	private heapify(): void {
		for (let i = Math.floor(this.heap.length / 2) - 1; i >= 0; i--) this.siftUp(i);
	}

	private queueTuple(item: QueueItem): unknown[] {
		return [item.numberIsFloat ? new PyFloat(item.number) : item.number, item.promptId, item.prompt, item.extraData, item.outputs];
	}

	// ---------------------------------------------------------------------------------------
	// POST /queue, POST /interrupt

	private async postQueue(req: IncomingMessage): Promise<HttpResult> {
		const body = (await this.readJson(req)) as Record<string, unknown>;
		if (!body || typeof body !== 'object') throw new Error('not a dict');
		if ('clear' in body && body.clear) {
			this.heap = [];
			this.queueUpdated();
		}
		if ('delete' in body) {
			for (const id of body.delete as unknown[]) {
				const index = this.heap.findIndex((item) => item.promptId === id);
				if (index < 0) continue;
				this.deletedFromQueue.push(this.heap[index].promptId);
				if (this.heap.length === 1) {
					this.heap = [];
					this.queueUpdated();
				} else {
					this.heap.splice(index, 1);
					this.heapify();
				}
				this.queueUpdated();
			}
		}
		return EMPTY_200;
	}

	private async postInterrupt(req: IncomingMessage): Promise<HttpResult> {
		let body: unknown = {};
		try {
			body = await this.readJson(req);
		} catch (error) {
			if (error instanceof BodyTooLarge) throw error;
			body = {};
		}
		const promptId = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).prompt_id : undefined;
		const runningPromptId = this.running?.item.promptId ?? null;
		let applied: boolean;
		if (promptId) {
			applied = runningPromptId !== null && runningPromptId === promptId;
		} else {
			applied = true;
		}
		if (applied) this.interruptFlag = true;
		this.interrupts.push({ promptId: promptId ? String(promptId) : null, applied, runningPromptId, at: Date.now() });
		return EMPTY_200;
	}

	// ---------------------------------------------------------------------------------------
	// /view and uploads

	private async getView(req: IncomingMessage, res: ServerResponse, url: URL): Promise<HttpResult | null> {
		const query = url.searchParams;
		const rawFilename = query.get('filename');
		if (rawFilename === null) return { status: 404, body: '' };
		let filename = rawFilename;
		let type: FolderType | null = null;
		if (filename.endsWith('[output]')) {
			type = 'output';
			filename = filename.slice(0, -9);
		} else if (filename.endsWith('[input]')) {
			type = 'input';
			filename = filename.slice(0, -8);
		} else if (filename.endsWith('[temp]')) {
			type = 'temp';
			filename = filename.slice(0, -7);
		}
		if (!filename) return { status: 400, body: '' };
		if (filename[0] === '/' || filename.includes('..')) return { status: 400, body: '' };
		if (type === null) {
			const requested = query.get('type') ?? 'output';
			if (requested !== 'output' && requested !== 'input' && requested !== 'temp') return { status: 400, body: '' };
			type = requested;
		}
		let folder = BASE_DIRS[type];
		const subfolder = query.get('subfolder');
		if (subfolder !== null) {
			const full = posix.resolve(folder, subfolder);
			if (full !== folder && !full.startsWith(folder + '/')) return { status: 403, body: '' };
			folder = posix.join(folder, subfolder);
		}
		const base = posix.basename(filename);
		const relative = VirtualFiles.relative(type, posix.resolve(folder, base));
		const file = relative === null ? undefined : this.files.get(type, relative);
		if (!file || relative === null) return { status: 404, body: '' };
		let contentType = MIME_BY_EXTENSION[posix.extname(base).toLowerCase()] ?? 'application/octet-stream';
		if (FORCED_OCTET.has(contentType)) contentType = 'application/octet-stream';

		let start = 0;
		let end = file.size;
		let status = 200;
		const range = req.headers.range;
		const headers: Record<string, string> = {
			'Content-Type': contentType,
			'Content-Disposition': `filename="${base}"`,
			'Accept-Ranges': 'bytes',
			'Last-Modified': new Date(file.mtimeMs).toUTCString(),
			Etag: `"${Math.floor(file.mtimeMs * 1000).toString(16)}-${file.size.toString(16)}"`,
		};
		if (range) {
			const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
			if (match && (match[1] !== '' || match[2] !== '')) {
				if (match[1] === '') {
					start = Math.max(0, file.size - Number(match[2]));
				} else {
					start = Number(match[1]);
					if (match[2] !== '') end = Math.min(file.size, Number(match[2]) + 1);
				}
				if (start >= file.size || start >= end) {
					this.finish(req, res, { status: 416, headers: { 'Content-Range': `bytes */${file.size}` }, body: '' });
					return null;
				}
				status = 206;
				headers['Content-Range'] = `bytes ${start}-${end - 1}/${file.size}`;
			}
		}
		headers['Content-Length'] = String(end - start);
		headers.Server = 'Python/3.12 aiohttp/3.12.15';
		this.record(req, status);
		res.writeHead(status, headers);
		if (req.method === 'HEAD') {
			res.end();
			return null;
		}
		const generation = this.generation;
		const pool = new BlockPool();
		for await (const chunk of this.files.stream(file, start, end, pool)) {
			if (res.destroyed || generation !== this.generation) return null;
			const rate = this.faults.downloadBytesPerSecond;
			if (rate && rate > 0) {
				// Small slices so a slow download trickles instead of arriving in bursts.
				const slice = Math.max(1, Math.min(chunk.length, Math.floor(rate / 20)));
				for (let offset = 0; offset < chunk.length; offset += slice) {
					const piece = chunk.subarray(offset, offset + slice);
					if (!res.write(piece)) await drainOrClose(res);
					await new Promise((resolve) => setTimeout(resolve, (piece.length / rate) * 1000));
					if (res.destroyed) return null;
				}
			} else if (!res.write(chunk, () => pool.release(chunk))) {
				await drainOrClose(res);
			}
		}
		res.end();
		return null;
	}

	private async postUpload(req: IncomingMessage, isMask: boolean): Promise<HttpResult> {
		const body = await this.readBody(req);
		const contentType = req.headers['content-type'] ?? '';
		const parts = parseMultipart(body, contentType);
		if (!parts) return SERVER_ERROR;
		const field = (name: string): string | undefined => {
			const part = parts.find((p) => p.name === name && p.filename === undefined);
			return part ? part.data.toString('utf8') : undefined;
		};
		const image = parts.find((p) => p.name === 'image');
		const overwrite = field('overwrite');
		const requestedType = field('type');
		let type: FolderType;
		if (requestedType === undefined || requestedType === 'input') type = 'input';
		else if (requestedType === 'temp' || requestedType === 'output') type = requestedType;
		else return SERVER_ERROR; // get_dir_by_type leaves type_dir unbound: UnboundLocalError
		if (!image || image.filename === undefined) return { status: 400, body: '' };
		let filename = image.filename;
		if (!filename) return { status: 400, body: '' };
		const subfolder = field('subfolder') ?? '';
		const baseDir = BASE_DIRS[type];
		const folderAbs = posix.resolve(baseDir, normpath(subfolder));
		let fileAbs = posix.resolve(folderAbs, filename);
		if (fileAbs !== baseDir && !fileAbs.startsWith(baseDir + '/')) return { status: 400, body: '' };
		if (isMask) {
			const originalRef = field('original_ref');
			if (!originalRef) return SERVER_ERROR;
			try {
				JSON.parse(originalRef);
			} catch {
				return SERVER_ERROR;
			}
		}
		const ext = posix.extname(filename);
		const stem = filename.slice(0, filename.length - ext.length);
		let duplicate = false;
		if (!(overwrite === 'true' || overwrite === '1')) {
			let i = 1;
			for (;;) {
				const relative = VirtualFiles.relative(type, fileAbs);
				if (relative === null || !this.files.exists(type, relative)) break;
				const existing = await this.files.read(type, relative);
				if (existing && existing.equals(image.data)) {
					duplicate = true;
					break;
				}
				filename = `${stem} (${i})${ext}`;
				fileAbs = posix.join(folderAbs, filename);
				i++;
			}
		}
		if (!duplicate) {
			const relative = VirtualFiles.relative(type, fileAbs);
			if (relative === null) return { status: 400, body: '' };
			this.files.put(type, relative, image.data);
		}
		return jsonResult(200, { name: filename, subfolder, type });
	}

	// ---------------------------------------------------------------------------------------
	// History and jobs

	private historyEntryJson(record: HistoryRecord): Record<string, unknown> {
		return {
			prompt: this.queueTuple(record.prompt),
			outputs: record.outputs,
			status: record.status,
			meta: record.meta,
		};
	}

	private historyJson(): Record<string, unknown> {
		const out: Record<string, unknown> = {};
		for (const [id, record] of this.historyMap) out[id] = this.historyEntryJson(record);
		return out;
	}

	private jobStatus(record: HistoryRecord): string {
		return record.status.status_str === 'success' ? 'completed' : 'failed';
	}

	private jobSummary(id: string, source: { pending?: QueueItem; running?: QueueItem; done?: HistoryRecord }): Record<string, unknown> {
		const item = (source.pending ?? source.running ?? source.done?.prompt) as QueueItem;
		const workflow = (item.extraData.extra_pnginfo as Record<string, unknown> | undefined)?.workflow as Record<string, unknown> | undefined;
		const job: Record<string, unknown> = {
			id,
			status: source.pending ? 'pending' : source.running ? 'in_progress' : this.jobStatus(source.done as HistoryRecord),
			priority: item.numberIsFloat ? new PyFloat(item.number) : item.number,
			create_time: item.extraData.create_time,
		};
		if (source.done) {
			const times = this.jobTimes.get(id) ?? {};
			job.execution_start_time = times.start;
			job.execution_end_time = times.end;
			let count = 0;
			let preview: Record<string, unknown> | undefined;
			for (const [nodeId, ui] of Object.entries(source.done.outputs)) {
				for (const [mediaType, list] of Object.entries(ui)) {
					for (const entry of list) {
						if (entry && typeof entry === 'object' && 'filename' in entry) {
							count++;
							const ref = entry as Record<string, unknown>;
							if (!preview && (ref.type === 'output' || ref.type === 'temp')) preview = { ...ref, nodeId, mediaType };
						}
					}
				}
			}
			job.outputs_count = count;
			job.preview_output = preview;
		} else {
			job.outputs_count = 0;
		}
		if (workflow && typeof workflow.id === 'string') job.workflow_id = workflow.id;
		for (const key of Object.keys(job)) if (job[key] === undefined || job[key] === null) delete job[key];
		return job;
	}

	private allJobs(): Array<{ id: string; source: { pending?: QueueItem; running?: QueueItem; done?: HistoryRecord } }> {
		const jobs: Array<{ id: string; source: { pending?: QueueItem; running?: QueueItem; done?: HistoryRecord } }> = [];
		for (const item of this.heap) jobs.push({ id: item.promptId, source: { pending: item } });
		if (this.running) jobs.push({ id: this.running.item.promptId, source: { running: this.running.item } });
		for (const [id, record] of this.historyMap) jobs.push({ id, source: { done: record } });
		return jobs;
	}

	private listJobs(url: URL): HttpResult {
		const query = url.searchParams;
		const valid = ['pending', 'in_progress', 'completed', 'failed'];
		const statusFilter = query.get('status');
		let statuses: string[] | null = null;
		if (statusFilter) {
			statuses = statusFilter.split(',').map((s) => s.trim()).filter(Boolean);
			const bad = statuses.filter((s) => !valid.includes(s));
			if (bad.length > 0) return jsonResult(400, { error: `Invalid status value(s): ${bad.join(', ')}. Valid values: ${valid.join(', ')}` });
		}
		const sortBy = query.get('sort_by') ?? 'created_at';
		if (sortBy !== 'created_at' && sortBy !== 'execution_duration') return jsonResult(400, { error: 'sort_by must be one of: created_at, execution_duration' });
		const sortOrder = query.get('sort_order') ?? 'desc';
		if (sortOrder !== 'asc' && sortOrder !== 'desc') return jsonResult(400, { error: 'sort_order must be one of: asc, desc' });
		const limitText = query.get('limit');
		const offsetText = query.get('offset');
		const limit = limitText === null ? null : Number(limitText);
		const offset = offsetText === null ? 0 : Number(offsetText);
		if (limit !== null && (!Number.isInteger(limit) || limit < 1)) return jsonResult(400, { error: 'limit must be a positive integer' });
		if (!Number.isInteger(offset) || offset < 0) return jsonResult(400, { error: 'offset must be non-negative' });
		const workflowId = query.get('workflow_id');
		let jobs = this.allJobs().map(({ id, source }) => this.jobSummary(id, source));
		if (statuses) jobs = jobs.filter((job) => (statuses as string[]).includes(String(job.status)));
		if (workflowId) jobs = jobs.filter((job) => job.workflow_id === workflowId);
		const key = (job: Record<string, unknown>): number =>
			sortBy === 'created_at'
				? Number(job.create_time ?? 0)
				: Number(job.execution_end_time ?? 0) - Number(job.execution_start_time ?? 0);
		jobs.sort((a, b) => (sortOrder === 'asc' ? key(a) - key(b) : key(b) - key(a)));
		const total = jobs.length;
		const page = limit === null ? jobs.slice(offset) : jobs.slice(offset, offset + limit);
		return jsonResult(200, { jobs: page, pagination: { offset, limit, total, has_more: offset + page.length < total } });
	}

	private getJob(id: string): HttpResult {
		const found = this.allJobs().find((job) => job.id === id);
		if (!found) return jsonResult(404, { error: 'Job not found' });
		const job = this.jobSummary(id, found.source);
		const done = found.source.done;
		if (done) {
			job.outputs = done.outputs;
			job.execution_status = done.status;
			job.workflow = { prompt: done.prompt.prompt, extra_data: done.prompt.extraData };
			const error = done.status.messages.find(([type]) => type === 'execution_error');
			if (error) job.execution_error = error[1];
		}
		return jsonResult(200, job);
	}

	// ---------------------------------------------------------------------------------------
	// The worker (main.py prompt_worker) and the executor (execution.py)

	private startWorker(): void {
		const generation = this.generation;
		void this.workerLoop(generation);
	}

	private async workerLoop(generation: number): Promise<void> {
		while (!this.stopped && generation === this.generation) {
			if (this.heap.length === 0) {
				await new Promise<void>((resolve) => (this.wakeWorker = resolve));
				this.wakeWorker = null;
				continue;
			}
			const item = this.heapPop() as QueueItem;
			const taskId = this.taskCounter++;
			this.running = { taskId, item: deepCopy(item) };
			for (const state of this.sockets.values()) state.runFrames = 0;
			this.runFramesActive = true;
			this.queueUpdated();
			try {
				await this.runPrompt(item, generation);
			} catch (error) {
				if (error instanceof RunAbandoned || generation !== this.generation) return;
				this.options.log(`worker crashed: ${String(error)}`);
			}
		}
	}

	private sleep(ms: number, generation: number): Promise<void> {
		if (generation !== this.generation) return Promise.reject(new RunAbandoned());
		if (ms === Infinity) {
			return new Promise((_resolve, reject) => {
				const timer = setTimeout(() => undefined, 2 ** 31 - 1);
				this.timers.set(timer, () => reject(new RunAbandoned()));
			});
		}
		if (!(ms > 0)) {
			// Node clamps setTimeout(0) to 1 ms, which would make a "0 ms" node cost the simulator 1 ms:
			// yield to the event loop instead. A restart in between bumps the generation.
			return new Promise((resolve, reject) => {
				setImmediate(() => (generation !== this.generation ? reject(new RunAbandoned()) : resolve()));
			});
		}
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.timers.delete(timer);
				if (generation !== this.generation) reject(new RunAbandoned());
				else resolve();
			}, Math.max(0, ms));
			this.timers.set(timer, () => reject(new RunAbandoned()));
		});
	}

	private nodeTime(nodeId: string, classType: string): number {
		const times = this.options.nodeTimes;
		if (nodeId in times) return times[nodeId];
		if (classType in times) return times[classType];
		return this.options.nodeTimeMs;
	}

	/** PromptExecutor.add_message */
	private addMessage(event: string, data: Record<string, unknown>, broadcast: boolean, withTimestamp = true): void {
		const message = withTimestamp ? { ...data, timestamp: Date.now() } : data;
		this.statusMessages.push([event, message]);
		if (this.serverClientId !== null || broadcast) this.send(event, message, this.serverClientId);
	}

	private signatureOf(prompt: Record<string, unknown>, nodeId: string, memo: Map<string, string>, stack = new Set<string>()): string {
		const known = memo.get(nodeId);
		if (known) return known;
		const node = prompt[nodeId] as { class_type: string; inputs?: Record<string, unknown> } | undefined;
		if (!node || stack.has(nodeId)) return `missing:${nodeId}`;
		stack.add(nodeId);
		const def = NODE_REGISTRY.get(node.class_type);
		const inputs = node.inputs ?? {};
		const parts: unknown[] = [node.class_type, def?.isChanged ? def.isChanged(inputs, this.registryEnv()) : null];
		if (node.class_type === 'LoadImage') {
			const file = this.annotatedFile(String(inputs.image), 'input');
			parts.push(file ? `${this.files.get(file.type, file.path)?.mtimeMs}` : 'none');
		}
		for (const name of Object.keys(inputs).sort()) {
			const value = inputs[name];
			if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string') parts.push([name, 'link', this.signatureOf(prompt, value[0], memo, stack), value[1]]);
			else parts.push([name, pyJsonDumps(value)]);
		}
		stack.delete(nodeId);
		const signature = JSON.stringify(parts);
		memo.set(nodeId, signature);
		return signature;
	}

	private isOutputNode(prompt: Record<string, unknown>, nodeId: string): boolean {
		const node = prompt[nodeId] as { class_type: string };
		return NODE_REGISTRY.get(node.class_type)?.outputNode === true;
	}

	private async runPrompt(item: QueueItem, generation: number): Promise<void> {
		const { promptId } = item;
		const prompt = deepCopy(item.prompt);
		const extraData = { ...item.extraData, ...item.sensitive };
		const alive = () => {
			if (generation !== this.generation) throw new RunAbandoned();
		};

		// execute_async
		this.interruptFlag = false;
		this.serverClientId = 'client_id' in extraData ? ((extraData.client_id as string | null) ?? null) : null;
		this.statusMessages = [];
		const times = { start: Date.now() } as { start?: number; end?: number };
		this.jobTimes.set(promptId, times);
		this.addMessage('execution_start', { prompt_id: promptId }, false);

		const memo = new Map<string, string>();
		const signatures = new Map<string, string>();
		for (const nodeId of Object.keys(prompt)) signatures.set(nodeId, this.signatureOf(prompt, nodeId, memo));
		if (!this.options.cache) this.cache.clear();
		else {
			// clean_unused: the classic cache keeps only what the current prompt can use.
			const wanted = new Set(signatures.values());
			for (const key of [...this.cache.keys()]) if (!wanted.has(key)) this.cache.delete(key);
		}
		const isCached = (nodeId: string) => this.cache.has(signatures.get(nodeId) as string);
		const cachedNodes = Object.keys(prompt).filter((nodeId) => isCached(nodeId));
		this.addMessage('execution_cached', { nodes: cachedNodes, prompt_id: promptId }, false);

		const values = new Map<string, SimValue[]>();
		for (const nodeId of cachedNodes) values.set(nodeId, (this.cache.get(signatures.get(nodeId) as string) as CacheEntry).outputs);
		const executed: string[] = [];
		const progressNodes = new Map<string, { value: number; max: number; state: 'running' | 'finished' }>();
		const sendProgressState = () => {
			const nodes: Record<string, unknown> = {};
			for (const [nodeId, state] of progressNodes) {
				nodes[nodeId] = { value: state.value, max: state.max, state: state.state, node_id: nodeId, prompt_id: promptId, display_node_id: nodeId, parent_node_id: null, real_node_id: nodeId };
			}
			this.send('progress_state', { prompt_id: promptId, nodes }, this.serverClientId);
		};

		// ExecutionList: pendingNodes in add_node order, blockCount/blocking by strong links.
		const pending: string[] = [];
		const blockCount = new Map<string, number>();
		const blocking = new Map<string, Map<string, true>>();
		const addNode = (start: string) => {
			const stackIds = [start];
			const links: Array<[string, string]> = [];
			while (stackIds.length > 0) {
				const id = stackIds.pop() as string;
				if (blockCount.has(id)) continue;
				pending.push(id);
				blockCount.set(id, 0);
				blocking.set(id, new Map());
				const inputs = ((prompt[id] as { inputs?: Record<string, unknown> }).inputs ?? {}) as Record<string, unknown>;
				for (const value of Object.values(inputs)) {
					if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string') {
						if (!isCached(value[0])) stackIds.push(value[0]);
						links.push([value[0], id]);
					}
				}
			}
			for (const [from, to] of links) {
				if (isCached(from)) continue;
				const blocked = blocking.get(from) as Map<string, true>;
				if (!blocked.has(to)) {
					blocked.set(to, true);
					blockCount.set(to, (blockCount.get(to) ?? 0) + 1);
				}
			}
		};
		for (const output of item.outputs) addNode(output);
		const pickNode = (available: string[]): string => {
			const isOut = (id: string) => this.isOutputNode(prompt, id);
			for (const id of available) if (isOut(id)) return id;
			for (const id of available) for (const b of (blocking.get(id) ?? new Map()).keys()) if (isOut(b)) return id;
			for (const id of available) for (const b of (blocking.get(id) ?? new Map()).keys()) for (const b2 of (blocking.get(b) ?? new Map()).keys()) if (isOut(b2)) return id;
			return available[0];
		};

		let failure: { kind: 'error' | 'interrupted'; nodeId: string; classType: string; exceptionType?: string; message?: string; currentInputs?: Record<string, unknown> } | null = null;
		let firstNode = true;
		while (pending.length > 0) {
			alive();
			const available = pending.filter((id) => blockCount.get(id) === 0);
			if (available.length === 0) break;
			const nodeId = pickNode(available);
			const node = prompt[nodeId] as { class_type: string; inputs?: Record<string, unknown> };
			const def = NODE_REGISTRY.get(node.class_type) as NodeDef;
			const signature = signatures.get(nodeId) as string;

			const restartHere = (firstNode && this.faults.restartDuringRun) || this.faults.restartAtNode === nodeId;
			firstNode = false;
			if (restartHere) {
				this.faults.restartDuringRun = undefined;
				this.faults.restartAtNode = undefined;
				void this.restart();
				throw new RunAbandoned();
			}
			if (this.faults.unknownEvents) this.send('crystools.monitor', { cpu_utilization: 12.5, ram_used_percent: 40.1, gpus: [{ gpu_utilization: 99 }] }, null);

			const cachedEntry = this.cache.get(signature);
			if (cachedEntry && isCached(nodeId)) {
				// An output node served from cache still reports its cached UI.
				if (this.serverClientId !== null) {
					this.send('executed', { node: nodeId, display_node: nodeId, output: cachedEntry.ui?.output ?? null, prompt_id: promptId }, this.serverClientId);
				}
				progressNodes.set(nodeId, { value: 1, max: 1, state: 'finished' });
				sendProgressState();
				executed.push(nodeId);
			} else {
				progressNodes.set(nodeId, { value: 0, max: 1, state: 'running' });
				sendProgressState();
				if (this.serverClientId !== null) {
					this.lastNodeId = nodeId;
					this.send('executing', { node: nodeId, display_node: nodeId, prompt_id: promptId }, this.serverClientId);
				}
				const inputs: Record<string, SimValue> = {};
				const currentInputs: Record<string, unknown> = {};
				for (const [name, value] of Object.entries(node.inputs ?? {})) {
					if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string') {
						const upstream = values.get(value[0]) ?? [];
						const resolved = upstream[toNumber(value[1]) < 0 ? upstream.length + toNumber(value[1]) : toNumber(value[1])];
						inputs[name] = resolved;
						currentInputs[name] = [describeValue(resolved)];
					} else {
						inputs[name] = value;
						currentInputs[name] = [value instanceof PyFloat || typeof value !== 'object' || value === null ? value : describeValue(value)];
					}
				}
				try {
					// nodes.before_node_execution(): the interrupt flag is checked as each node starts.
					if (this.interruptFlag) throw new InterruptProcessing();
					if (this.faults.oomAtNode === nodeId) throw new PyException('torch.OutOfMemoryError', OOM_MESSAGE);
					if (this.faults.executionErrorAtNode === nodeId) {
						throw new PyException(this.faults.executionErrorType ?? 'RuntimeError', this.faults.executionErrorMessage ?? 'Simulated failure');
					}
					const ctx = this.execContext(nodeId, def, prompt, extraData, promptId, generation, progressNodes, sendProgressState);
					const result = await def.run(inputs, ctx);
					alive();
					values.set(nodeId, result.outputs);
					const ui = result.ui && Object.keys(result.ui).length > 0 ? result.ui : undefined;
					const meta = { node_id: nodeId, display_node: nodeId, parent_node: null, real_node_id: nodeId };
					this.cache.set(signature, { outputs: result.outputs, ui: ui ? { output: ui, meta } : undefined });
					if (ui && this.serverClientId !== null) {
						this.send('executed', { node: nodeId, display_node: nodeId, output: ui, prompt_id: promptId }, this.serverClientId);
					}
					progressNodes.set(nodeId, { value: progressNodes.get(nodeId)?.max ?? 1, max: progressNodes.get(nodeId)?.max ?? 1, state: 'finished' });
					sendProgressState();
					executed.push(nodeId);
				} catch (error) {
					if (error instanceof RunAbandoned || generation !== this.generation) throw new RunAbandoned();
					if (error instanceof InterruptProcessing) {
						failure = { kind: 'interrupted', nodeId, classType: node.class_type };
					} else {
						const ex = error instanceof PyException ? error : new PyException('Exception', String(error));
						failure = { kind: 'error', nodeId, classType: node.class_type, exceptionType: ex.pyType, message: ex.message, currentInputs };
					}
					break;
				}
			}
			// complete_node_execution: unblock dependants
			pending.splice(pending.indexOf(nodeId), 1);
			for (const to of (blocking.get(nodeId) ?? new Map()).keys()) blockCount.set(to, (blockCount.get(to) ?? 1) - 1);
		}

		if (failure?.kind === 'interrupted') {
			this.addMessage('execution_interrupted', { prompt_id: promptId, node_id: failure.nodeId, node_type: failure.classType, executed }, true);
		} else if (failure?.kind === 'error') {
			const tips = failure.exceptionType === 'torch.OutOfMemoryError' ? OOM_TIPS : '';
			this.addMessage(
				'execution_error',
				{
					prompt_id: promptId,
					node_id: failure.nodeId,
					node_type: failure.classType,
					executed,
					exception_message: `${failure.message}\n${tips}`,
					exception_type: failure.exceptionType,
					traceback: [
						'  File "/ComfyUI/execution.py", line 496, in execute\n    output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)\n',
						`  File "/ComfyUI/nodes.py", line 580, in ${failure.classType}\n    raise ${failure.exceptionType?.split('.').pop()}(${JSON.stringify(failure.message)})\n`,
					],
					current_inputs: failure.currentInputs ?? {},
					current_outputs: [...new Set([...cachedNodes, ...executed])],
				},
				false,
			);
		} else {
			this.addMessage('execution_success', { prompt_id: promptId }, false);
		}
		times.end = Date.now();

		const outputs: Record<string, UiOutput> = {};
		const meta: Record<string, Record<string, unknown>> = {};
		for (const nodeId of Object.keys(prompt)) {
			const entry = this.cache.get(signatures.get(nodeId) as string);
			if (entry?.ui && (values.has(nodeId) || isCached(nodeId))) {
				outputs[nodeId] = entry.ui.output;
				meta[nodeId] = entry.ui.meta;
			}
		}
		this.lastNodeId = null;
		const status = { status_str: failure ? 'error' : 'success', completed: !failure, messages: this.statusMessages } as HistoryRecord['status'];

		// The real race: execution_success is out, the history entry is not written yet.
		await this.sleep(this.faults.historyDelayMs ?? 0, generation);
		alive();
		this.taskDone(item, { outputs, status, meta });
		if (this.serverClientId !== null) this.send('executing', { node: null, prompt_id: promptId }, this.serverClientId);
		this.runFramesActive = false;
	}

	/** PromptQueue.task_done */
	private taskDone(item: QueueItem, result: Omit<HistoryRecord, 'prompt'>): void {
		this.running = null;
		if (this.historyMap.size > this.options.maxHistorySize) {
			const oldest = this.historyMap.keys().next().value;
			if (oldest !== undefined) this.historyMap.delete(oldest);
		}
		this.historyMap.set(item.promptId, { prompt: { ...item, sensitive: {} }, ...result });
		this.queueUpdated();
	}

	private execContext(
		nodeId: string,
		def: NodeDef,
		prompt: Record<string, unknown>,
		extraData: Record<string, unknown>,
		promptId: string,
		generation: number,
		progressNodes: Map<string, { value: number; max: number; state: 'running' | 'finished' }>,
		sendProgressState: () => void,
	): ExecContext {
		const time = this.nodeTime(nodeId, def.name);
		const previewMethod = (() => {
			const perPrompt = extraData.preview_method;
			if (typeof perPrompt === 'string' && perPrompt !== 'default') return perPrompt;
			return this.options.previewMethod;
		})();
		const sim = this;
		return {
			nodeId,
			classType: def.name,
			promptId,
			prompt,
			extraPngInfo: extraData.extra_pnginfo as Record<string, unknown> | undefined,
			work: () => sim.sleep(time, generation),
			async steps(total: number, preview?: { kind: 'latent' } | { kind: 'png'; image: ImageValue }) {
				const perStep = total > 0 ? time / total : 0;
				let owed = 0;
				for (let step = 1; step <= total; step++) {
					owed += perStep;
					if (owed >= 1 || perStep === Infinity) {
						const wait = perStep === Infinity ? Infinity : Math.floor(owed);
						owed -= wait;
						await sim.sleep(wait, generation);
					} else if (step % 64 === 0) {
						await new Promise((resolve) => setImmediate(resolve));
						if (generation !== sim.generation) throw new RunAbandoned();
					}
					// main.py hook: interrupt check, progress_state (update_progress), then "progress".
					if (sim.interruptFlag) throw new InterruptProcessing();
					progressNodes.set(nodeId, { value: step, max: total, state: 'running' });
					sendProgressState();
					sim.send('progress', { value: step, max: total, prompt_id: promptId, node: nodeId }, sim.serverClientId);
					let image: { format: 'JPEG' | 'PNG'; bytes: Buffer } | null = null;
					if (preview?.kind === 'latent' && previewMethod !== 'none') image = { format: 'JPEG', bytes: TINY_PREVIEW_JPEG };
					if (preview?.kind === 'png') {
						image = { format: 'PNG', bytes: encodeSolidPng(preview.image.width, preview.image.height, colourFromSeed(preview.image.seed + step - 1)) };
					}
					if (image) sim.sendPreview(image, nodeId, promptId);
				}
			},
			fail(exceptionType: string, message: string): never {
				throw new PyException(exceptionType, message);
			},
			checkpointAvailableAtRun: (name) => !(sim.faults.checkpointsMissingAtRun ?? []).includes(name),
			saveImages: async (images, filenamePrefix, type, prefixAppend) => sim.saveImages(images, filenamePrefix + prefixAppend, type, prompt, extraData),
			saveGenerated: (prefix, extension, sizeBytes, header, trailingUnderscore) => {
				const target = sim.saveTarget(prefix, 'output', 0, 0);
				const filename = `${target.filename}_${String(target.counter).padStart(5, '0')}${trailingUnderscore ? '_' : ''}.${extension}`;
				sim.files.putGenerated('output', target.subfolder ? `${target.subfolder}/${filename}` : filename, sizeBytes, header);
				return { filename, subfolder: target.subfolder, type: 'output' };
			},
			outputSizeBytes: () => sim.faults.outputSizeBytes,
			readInputImageSize: (annotatedName) => {
				const file = sim.annotatedFile(annotatedName, 'input');
				const stored = file ? sim.files.get(file.type, file.path) : undefined;
				return stored?.data ? readPngSize(stored.data) : null;
			},
		};
	}

	/** Binary preview: type 4 with metadata for sockets that negotiated it, else legacy type 1. */
	private sendPreview(image: { format: 'JPEG' | 'PNG'; bytes: Buffer }, nodeId: string, promptId: string): void {
		const sid = this.serverClientId;
		const targets = sid === null ? [...this.sockets.values()] : this.sockets.has(sid) ? [this.sockets.get(sid) as SocketState] : [];
		for (const state of targets) {
			if (state.featureFlags.supports_preview_metadata === true && sid !== null) {
				const metadata = Buffer.from(
					pyJsonDumps({ node_id: nodeId, prompt_id: promptId, display_node_id: nodeId, parent_node_id: null, real_node_id: nodeId, image_type: image.format === 'PNG' ? 'image/png' : 'image/jpeg' }),
				);
				const header = Buffer.alloc(8);
				header.writeUInt32BE(4, 0);
				header.writeUInt32BE(metadata.length, 4);
				this.sendFrame(state, Buffer.concat([header, metadata, image.bytes]), 'binary:4', promptId);
			} else {
				const header = Buffer.alloc(8);
				header.writeUInt32BE(1, 0);
				header.writeUInt32BE(image.format === 'PNG' ? 2 : 1, 4);
				this.sendFrame(state, Buffer.concat([header, image.bytes]), 'binary:1', promptId);
			}
		}
	}

	/** folder_paths.get_save_image_path */
	private saveTarget(filenamePrefix: string, type: FolderType, width: number, height: number): { subfolder: string; filename: string; counter: number } {
		let prefix = filenamePrefix;
		if (prefix.includes('%')) {
			const now = new Date();
			prefix = prefix
				.replace(/%width%/g, String(width))
				.replace(/%height%/g, String(height))
				.replace(/%year%/g, String(now.getFullYear()))
				.replace(/%month%/g, pad2(now.getMonth() + 1))
				.replace(/%day%/g, pad2(now.getDate()))
				.replace(/%hour%/g, pad2(now.getHours()))
				.replace(/%minute%/g, pad2(now.getMinutes()))
				.replace(/%second%/g, pad2(now.getSeconds()));
		}
		const normalised = normpath(prefix);
		let subfolder = posix.dirname(normalised);
		if (subfolder === '.') subfolder = '';
		const filename = posix.basename(normalised);
		const base = BASE_DIRS[type];
		const full = posix.resolve(base, subfolder);
		if (full !== base && !full.startsWith(base + '/')) {
			throw new PyException(
				'Exception',
				`**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: ${full}\n         output_dir: ${base}\n         commonpath: ${commonPath(base, full)}`,
			);
		}
		const prefixLength = posix.basename(filenamePrefix).length;
		let counter = 0;
		for (const existing of this.files.list(type, VirtualFiles.relative(type, full) ?? '')) {
			const head = existing.slice(0, prefixLength + 1);
			if (head.slice(0, -1) !== filename || head.slice(-1) !== '_') continue;
			const digitsText = existing.slice(prefixLength + 1).split('_')[0];
			const digits = /^\s*[+-]?\d+\s*$/.test(digitsText) ? parseInt(digitsText, 10) : 0;
			counter = Math.max(counter, digits);
		}
		return { subfolder: VirtualFiles.relative(type, full) ?? '', filename, counter: counter + 1 };
	}

	private async saveImages(images: ImageValue, filenamePrefix: string, type: 'output' | 'temp', prompt: Record<string, unknown>, extraData: Record<string, unknown>): Promise<FileRef[]> {
		const target = this.saveTarget(filenamePrefix, type, images.width, images.height);
		const text: Record<string, string> = { prompt: pyJsonDumps(prompt) };
		const pngInfo = extraData.extra_pnginfo;
		if (pngInfo && typeof pngInfo === 'object') for (const [key, value] of Object.entries(pngInfo)) text[key] = pyJsonDumps(value);
		const results: FileRef[] = [];
		let counter = target.counter;
		for (let batch = 0; batch < images.batch; batch++) {
			const name = target.filename.replace(/%batch_num%/g, String(batch));
			const file = `${name}_${String(counter).padStart(5, '0')}_.png`;
			const png = encodeSolidPng(images.width, images.height, colourFromSeed(images.seed + batch), text);
			this.files.put(type, target.subfolder ? `${target.subfolder}/${file}` : file, png);
			results.push({ filename: file, subfolder: target.subfolder, type });
			counter++;
		}
		return results;
	}
}

function drainOrClose(res: ServerResponse): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			res.off('drain', done);
			res.off('close', done);
			resolve();
		};
		res.on('drain', done);
		res.on('close', done);
	});
}

function commonPath(a: string, b: string): string {
	const pa = a.split('/');
	const pb = b.split('/');
	const out: string[] = [];
	for (let i = 0; i < Math.min(pa.length, pb.length) && pa[i] === pb[i]; i++) out.push(pa[i]);
	return out.join('/') || '/';
}

/** str(value) of a non-primitive input, like execution.py formats current_inputs. */
function describeValue(value: unknown): unknown {
	if (value === null || value === undefined) return null;
	if (typeof value !== 'object') return value;
	if (value instanceof PyFloat) return value;
	const kind = (value as { kind?: string }).kind;
	const address = '0x7f' + Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0');
	switch (kind) {
		case 'model':
			return `<comfy.model_patcher.ModelPatcher object at ${address}>`;
		case 'clip':
			return `<comfy.sd.CLIP object at ${address}>`;
		case 'vae':
			return `<comfy.sd.VAE object at ${address}>`;
		case 'image': {
			const image = value as ImageValue;
			return `tensor of shape [${image.batch}, ${image.height}, ${image.width}, 3]`;
		}
		case 'latent': {
			const latent = value as { batch: number; width: number; height: number };
			return `{'samples': tensor of shape [${latent.batch}, 4, ${Math.floor(latent.height / 8)}, ${Math.floor(latent.width / 8)}]}`;
		}
		default:
			return pyJsonDumps(value);
	}
}

/** str(prompt_id) as server.py does it (numbers and booleans are accepted too). */
function pyStrId(value: unknown): string {
	if (value === null || value === undefined) return 'None';
	if (typeof value === 'boolean') return value ? 'True' : 'False';
	if (typeof value === 'string') return value;
	if (typeof value === 'number') return String(value);
	return pyJsonDumps(value);
}
