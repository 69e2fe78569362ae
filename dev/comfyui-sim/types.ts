/** Public types of the ComfyUI simulator (re-exported by ./index.ts). */

export type ComfySimAuth =
	/** Reverse proxy with a bearer token: 401 + WWW-Authenticate: Bearer without `Authorization: Bearer <token>`. */
	| { type: 'bearer'; token: string }
	/** Reverse proxy with HTTP Basic: 401 + WWW-Authenticate: Basic realm="ComfyUI" (nginx-like HTML body). */
	| { type: 'basic'; user: string; password: string }
	/** RunPod-style query token: `?<name>=<value>` (name defaults to "token"), else 401. */
	| { type: 'query'; name?: string; value: string }
	/**
	 * ComfyUI-Login custom node: `Authorization: Bearer <token>` or `?token=<token>`; otherwise a
	 * 302 to /login (also for the WebSocket upgrade). Without a token nothing is accepted.
	 */
	| { type: 'redirect-login'; token?: string };

/** Faults, each independent; mutate `sim.faults` at any time. One-shot faults clear themselves. */
export interface ComfySimFaults {
	/** Node id that raises during execution (after its `executing` event). */
	executionErrorAtNode?: string;
	/** exception_type of that error (default "RuntimeError"). */
	executionErrorType?: string;
	/** Exception text (default "Simulated failure"); the server appends "\n" like the real one. */
	executionErrorMessage?: string;
	/** Node id that raises torch.OutOfMemoryError with the real OOM tip text. */
	oomAtNode?: string;
	/** Checkpoints listed in /object_info (so validation passes) but gone at run time: FileNotFoundError. */
	checkpointsMissingAtRun?: string[];
	/**
	 * ONE-SHOT: during the next run, after a socket has been sent this many frames of that run,
	 * terminate it (TCP drop, client sees code 1006). Nothing is replayed on reconnect.
	 */
	dropWsAfterEvents?: number;
	/** Every socket (open and new) stops receiving frames; the connection stays open. */
	stallWs?: boolean;
	/** With stallWs: also stop answering client pings (a half-open proxy). Default: pings answered. */
	stallWsPongs?: boolean;
	/** ONE-SHOT: restart the server (forget queue + history) when the next run starts its first node. */
	restartDuringRun?: boolean;
	/** ONE-SHOT: restart when the run reaches this node id. */
	restartAtNode?: string;
	/** Answer POST /prompt with this status (proxy-style body), before queueing. */
	submitStatus?: 500 | 503;
	/** How many submits get `submitStatus` (default: all until cleared). Decremented per submit. */
	submitStatusCount?: number;
	/** With submitStatus: queue the prompt anyway, then answer the error (the response is "lost"). */
	submitFailAfterQueue?: boolean;
	/** Throttle /view downloads to this rate. */
	downloadBytesPerSecond?: number;
	/** Delay between execution_success/_error and the history write (the real race, made wider). */
	historyDelayMs?: number;
	/** Authentication in front of every route, /ws included. */
	auth?: ComfySimAuth;
	/** Size of the files written by SaveVideo / VHS_VideoCombine (generated lazily, any size). */
	outputSizeBytes?: number;
	/** Broadcast an unknown event type (like crystools.monitor) before every node: clients must ignore it. */
	unknownEvents?: boolean;
}

export interface ComfySimOptions {
	/** 0 (default) = ephemeral port. */
	port?: number;
	/** Default 127.0.0.1. */
	host?: string;
	/** Run time of each node in ms (default 5). KSampler spreads it over its steps. */
	nodeTimeMs?: number;
	/** Run time per class_type or node id (node id wins). Infinity = a hung node (only restart/stop ends it). */
	nodeTimes?: Record<string, number>;
	/** Checkpoint files the server "has" (CheckpointLoaderSimple.ckpt_name, /models/checkpoints). */
	checkpoints?: string[];
	/** --max-upload-size in bytes (default 100 MiB): 413 above it for every request body. */
	maxUploadBytes?: number;
	/** MAXIMUM_HISTORY_SIZE (default 10000). */
	maxHistorySize?: number;
	/** --preview-method (default 'none': no binary previews unless extra_data.preview_method asks). */
	previewMethod?: 'none' | 'auto' | 'latent2rgb' | 'taesd';
	/** false = --cache-none (default true: identical nodes are served from cache). */
	cache?: boolean;
	/** Reported in /system_stats (default '0.8.0'). */
	comfyuiVersion?: string;
	/** GET /api/jobs (v0.6+; default true). */
	jobsApi?: boolean;
	/** Initial faults (copied into sim.faults). */
	faults?: ComfySimFaults;
	/** Log lines (default: silent). */
	log?: (line: string) => void;
}

export interface ComfySimResolvedOptions {
	port: number;
	host: string;
	nodeTimeMs: number;
	nodeTimes: Record<string, number>;
	checkpoints: string[];
	maxUploadBytes: number;
	maxHistorySize: number;
	previewMethod: 'none' | 'auto' | 'latent2rgb' | 'taesd';
	cache: boolean;
	comfyuiVersion: string;
	jobsApi: boolean;
	log: (line: string) => void;
}

/** One POST /prompt that passed validation and was queued. */
export interface SimSubmittedPrompt {
	promptId: string;
	number: number;
	clientId: string | null;
	/** The prompt after validation (coerced values), as queued. */
	prompt: Record<string, unknown>;
	/** extra_data as stored (sensitive keys removed). */
	extraData: Record<string, unknown>;
	/** api_key_comfy_org / auth_token_comfy_org that were moved out of extra_data. */
	sensitive: Record<string, unknown>;
	outputsToExecute: string[];
	at: number;
}

/** Every POST /prompt attempt, with the answer. */
export interface SimSubmission {
	status: number;
	promptId: string | null;
	body: unknown;
	at: number;
}

export interface SimInterrupt {
	/** prompt_id from the body, or null for a global interrupt. */
	promptId: string | null;
	/** Whether the flag was set (global, or prompt_id matched the running prompt). */
	applied: boolean;
	/** The prompt running at that moment. */
	runningPromptId: string | null;
	at: number;
}

export interface SimRequestRecord {
	method: string;
	/** Path and query as received (e.g. "/api/view?filename=x.png"). */
	url: string;
	status: number;
	headers: Record<string, string | string[] | undefined>;
	at: number;
}

export interface SimFileRef {
	filename: string;
	subfolder?: string;
	type?: 'output' | 'input' | 'temp';
}

/** A frame the server sent on a WebSocket (for debugging and assertions). */
export interface SimSentFrame {
	sid: string;
	/** JSON message type, or "binary:<event type>". */
	type: string;
	promptId?: string;
	at: number;
}

export interface ComfySim {
	/** http://127.0.0.1:<port> */
	readonly url: string;
	/** ws://127.0.0.1:<port> */
	readonly wsUrl: string;
	readonly port: number;
	/** Mutable; read on every request / run step. */
	faults: ComfySimFaults;
	/** Resolved options; `checkpoints`, `nodeTimeMs`, `previewMethod`, `cache`, `maxUploadBytes` may be changed live. */
	readonly options: ComfySimResolvedOptions;

	stop(): Promise<void>;
	/**
	 * Like a process restart on the same port: drops every socket and HTTP connection, forgets
	 * queue, history, running prompt, caches and the `number` counter, wipes temp/ (output/ and
	 * input/ files stay). The port refuses connections for `downtimeMs` (default 0).
	 */
	restart(options?: { downtimeMs?: number }): Promise<void>;
	setNodeTime(classTypeOrNodeId: string, ms: number): void;

	/** Accepted prompts, in submit order. */
	readonly submitted: readonly SimSubmittedPrompt[];
	/** Every POST /prompt attempt. */
	readonly submissions: readonly SimSubmission[];
	readonly interrupts: readonly SimInterrupt[];
	/** prompt_ids actually removed from the pending queue by POST /queue {delete} (not clear). */
	readonly deletedFromQueue: readonly string[];
	/** Every HTTP request and WS upgrade, with the status answered. */
	readonly requests: readonly SimRequestRecord[];
	/** Every WS frame sent. */
	readonly sentFrames: readonly SimSentFrame[];

	/** pending + running (= queue_remaining). */
	queueLength(): number;
	queue(): { running: string[]; pending: string[] };
	/** A plain-JSON copy of the history (as GET /history returns it). */
	history(): Record<string, SimHistoryEntry>;
	/** Client ids (sids) with an open socket registered. */
	clientIds(): string[];
	/** Resolves when nothing is pending or running. */
	idle(): Promise<void>;

	/** Put a file into input/, output/ or temp/; `{ sizeBytes }` makes a lazily generated file of that size. */
	addFile(ref: SimFileRef, content: Buffer | { sizeBytes: number; header?: Buffer }): void;
	readFile(ref: SimFileRef): Promise<Buffer | null>;
	fileSha256(ref: SimFileRef): Promise<string | null>;
	fileExists(ref: SimFileRef): boolean;

	/** Terminate sockets now (all, or one client id). */
	dropWebSockets(clientId?: string): void;
	/** The sockets open now stop receiving (new ones are healthy). */
	stallConnectedSockets(options?: { answerPings?: boolean }): void;
	/** Binary TEXT frame (type 3), like PromptServer.send_progress_text. */
	sendProgressText(nodeId: string, text: string, clientId?: string | null): void;
}

export interface SimHistoryEntry {
	prompt: [number, string, Record<string, unknown>, Record<string, unknown>, string[]];
	outputs: Record<string, Record<string, unknown[]>>;
	status: { status_str: 'success' | 'error'; completed: boolean; messages: Array<[string, Record<string, unknown>]> };
	meta: Record<string, { node_id: string; display_node: string; parent_node: string | null; real_node_id: string }>;
}
