/**
 * Shared pieces of the ComfyUI client benchmarks: machine info, statistics, tables, result files,
 * the common workflow, and thin adapters that run one job with each client the way its own
 * documentation says to (ours: lib/comfyui; peers: @saintno/comfyui-sdk and the
 * n8n-nodes-comfyui-media community node run through n8n-core's WorkflowExecute).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';

import type {
	CallWrapper as SdkCallWrapper,
	ComfyApi as SdkComfyApi,
	ComfyPool as SdkComfyPool,
	NodeData as SdkNodeData,
	PromptBuilder as SdkPromptBuilder,
} from '@saintno/comfyui-sdk';
import type { INodeExecutionData } from 'n8n-workflow';

import { ComfyUiClient, type ComfyServerConfigInput, type OutputFile } from '../lib/comfyui';
import { txt2imgWorkflow, videoWorkflow } from '../dev/comfyui-sim';
import { wallClockMs } from './comfyui-sim-host';

export { wallClockMs };

export type ClientName = 'promptlab' | 'comfyui-sdk' | 'comfyui-media';
export const CLIENT_NAMES: ClientName[] = ['promptlab', 'comfyui-sdk', 'comfyui-media'];
export const CLIENT_LABELS: Record<ClientName, string> = {
	promptlab: 'promptlab (lib/comfyui)',
	'comfyui-sdk': '@saintno/comfyui-sdk 0.3.1',
	'comfyui-media': 'n8n-nodes-comfyui-media 1.0.16',
};

// ---------------------------------------------------------------------------------------------
// Machine, statistics, output

export interface MachineInfo {
	cpus: number;
	cpuModel: string;
	node: string;
	platform: string;
	release: string;
	totalMemoryMb: number;
	freeMemoryMb: number;
	/** 1/5/15-minute load averages when the result was written (other work on the machine skews timings). */
	loadAverage: number[];
	date: string;
}

export function machineInfo(): MachineInfo {
	const list = cpus();
	return {
		cpus: list.length,
		cpuModel: list[0]?.model ?? 'unknown',
		node: process.version,
		platform: platform(),
		release: release(),
		totalMemoryMb: Math.round(totalmem() / 2 ** 20),
		freeMemoryMb: Math.round(freemem() / 2 ** 20),
		loadAverage: loadavg().map((l) => round(l, 2)),
		date: new Date().toISOString(),
	};
}

export interface Summary {
	n: number;
	min: number;
	p50: number;
	p90: number;
	p99: number;
	max: number;
	mean: number;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return Number.NaN;
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(values: number[]): Summary {
	const sorted = [...values].sort((a, b) => a - b);
	const sum = sorted.reduce((a, b) => a + b, 0);
	return {
		n: sorted.length,
		min: sorted[0] ?? Number.NaN,
		p50: percentile(sorted, 50),
		p90: percentile(sorted, 90),
		p99: percentile(sorted, 99),
		max: sorted[sorted.length - 1] ?? Number.NaN,
		mean: sorted.length ? sum / sorted.length : Number.NaN,
	};
}

export function round(value: number, digits = 1): number {
	if (!Number.isFinite(value)) return value;
	const f = 10 ** digits;
	return Math.round(value * f) / f;
}

/** A GitHub-flavoured markdown table (also readable in a terminal). */
export function markdownTable(headers: string[], rows: Array<Array<string | number>>): string {
	const cells = rows.map((row) => row.map((c) => (typeof c === 'number' ? String(round(c, 1)) : c)));
	const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
	const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
	return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

const STARTED_LOAD = loadavg().map((l) => Math.round(l * 100) / 100);

export const RESULTS_DIR = resolve(__dirname, 'results');

/** Writes bench/results/comfyui-<name>.json with the machine info; returns the path. */
export function writeResult(name: string, data: Record<string, unknown>): string {
	mkdirSync(RESULTS_DIR, { recursive: true });
	const path = resolve(RESULTS_DIR, `comfyui-${name}.json`);
	writeFileSync(path, `${JSON.stringify({ benchmark: name, machine: machineInfo(), loadAverageAtStart: STARTED_LOAD, ...data }, null, '\t')}\n`);
	return path;
}

export function argValue(name: string): string | undefined {
	const args = process.argv.slice(2);
	const index = args.indexOf(`--${name}`);
	if (index >= 0) return args[index + 1];
	const inline = args.find((a) => a.startsWith(`--${name}=`));
	return inline ? inline.slice(name.length + 3) : undefined;
}

export function argNumber(name: string, fallback: number): number {
	const raw = argValue(name);
	const value = raw === undefined ? fallback : Number(raw);
	if (!Number.isFinite(value)) throw new Error(`--${name} must be a number`);
	return value;
}

/** --clients promptlab,comfyui-sdk (default: all three). */
export function selectedClients(): ClientName[] {
	const raw = argValue('clients');
	if (!raw) return [...CLIENT_NAMES];
	const wanted = raw.split(',').map((s) => s.trim());
	for (const w of wanted) if (!CLIENT_NAMES.includes(w as ClientName)) throw new Error(`unknown client ${w} (${CLIENT_NAMES.join(', ')})`);
	return wanted as ClientName[];
}

/** Rejects after `ms` (a peer that never settles must not hang the suite); the job itself is not stopped. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	// A late rejection of a job we stopped waiting for must not become an unhandled rejection.
	promise.catch(() => undefined);
	const timeout = new Promise<never>((_resolve, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
	return new Promise((done) => setTimeout(done, ms));
}

// ---------------------------------------------------------------------------------------------
// The workload: the same graph for every client, a fresh seed per job (no ComfyUI cache hits)

export type BenchWorkflow = ReturnType<typeof txt2imgWorkflow>;

/** The simulator's txt2img graph (7 nodes, output on "9"), 64×64 so PNG encoding stays negligible. */
export function benchWorkflow(seed: number, steps = 20): BenchWorkflow {
	return txt2imgWorkflow({ width: 64, height: 64, seed, steps });
}

/** SaveVideo graph (output on "11"); the simulator makes the file `faults.outputSizeBytes` long. */
export function bigOutputWorkflow(seed: number): BenchWorkflow {
	return videoWorkflow({ seed, frames: 1 });
}

export const OUTPUT_NODE = { image: '9', video: '11' } as const;

/** Hashes a stream without keeping it: the sink every download goes to. */
export async function hashStream(stream: Readable | AsyncIterable<Uint8Array>): Promise<{ sha256: string; bytes: number }> {
	const hash = createHash('sha256');
	let bytes = 0;
	for await (const chunk of stream as AsyncIterable<Uint8Array>) {
		bytes += chunk.length;
		hash.update(chunk);
	}
	return { sha256: hash.digest('hex'), bytes };
}

/** One finished job as every adapter reports it. */
export interface JobOutcome {
	promptId: string;
	/** Epoch ms (sub-ms) when the client handed over the list of outputs. */
	listedAt?: number;
	/** Epoch ms when every output had been downloaded (hashed) too. */
	downloadedAt?: number;
	files: number;
	bytes: number;
	server?: string;
}

// ---------------------------------------------------------------------------------------------
// promptlab (ours)

/** The client configuration every benchmark uses: defaults, except for the base URL. */
export function promptlabConfig(url: string, extra: Partial<ComfyServerConfigInput> = {}): ComfyServerConfigInput {
	return { baseUrl: url, ...extra };
}

export async function downloadAllPromptlab(client: ComfyUiClient, files: OutputFile[]): Promise<number> {
	let bytes = 0;
	for (const file of files) {
		const downloaded = await client.download(file);
		bytes += (await hashStream(downloaded.stream)).bytes;
	}
	return bytes;
}

export async function runPromptlab(client: ComfyUiClient, workflow: BenchWorkflow, download: boolean): Promise<JobOutcome> {
	const result = await client.run(workflow);
	const listedAt = wallClockMs();
	const outcome: JobOutcome = { promptId: result.promptId, listedAt, files: result.outputs.length, bytes: 0, server: result.server };
	if (download) {
		outcome.bytes = await downloadAllPromptlab(client, result.outputs);
		outcome.downloadedAt = wallClockMs();
	}
	return outcome;
}

// ---------------------------------------------------------------------------------------------
// @saintno/comfyui-sdk (ships a CommonJS build next to its ESM one, so a plain require works)

export type SdkModule = typeof import('@saintno/comfyui-sdk');
export type { SdkComfyApi, SdkComfyPool };

let sdkModule: SdkModule | undefined;

export function loadSdk(): SdkModule {
	// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the SDK is benchmarked
	sdkModule ??= require('@saintno/comfyui-sdk') as SdkModule;
	return sdkModule;
}

/** `new ComfyApi(url).init()` + waitForReady(), as the SDK's README starts it. */
export async function connectSdk(url: string): Promise<SdkComfyApi> {
	const { ComfyApi } = loadSdk();
	const api = new ComfyApi(url);
	api.init();
	await api.waitForReady();
	// waitForReady() does not wait for the socket; the first job would otherwise race it.
	for (let i = 0; i < 500 && !(api as unknown as { socket?: { client?: { readyState?: number } } }).socket?.client?.readyState; i++) await sleep(10);
	return api;
}

export type SdkImageRef = { filename: string; subfolder?: string; type: string };
/** The `executed` output of a save node as the SDK hands it over. */
export type SdkNodeOutput = { images?: SdkImageRef[] };

function sdkPrompt(workflow: BenchWorkflow, outputNode: string): SdkPromptBuilder<string, 'output', SdkNodeData> {
	const { PromptBuilder } = loadSdk();
	// The SDK's NodeData type wants `_meta` on every node; ComfyUI (and the SDK at run time) do not.
	return new PromptBuilder(workflow as unknown as SdkNodeData, [], ['output']).setRawOutputNode('output', outputNode);
}

/**
 * CallWrapper(api, PromptBuilder) with onFinished/onFailed, as the SDK's README uses it. The result
 * is taken from whichever comes first of onFinished and run()'s promise: when a prompt's first
 * events arrive before the answer to its POST, run() itself never settles although onFinished
 * fires (found while benchmarking; see the throughput notes).
 */
export function sdkRun(api: SdkComfyApi, workflow: BenchWorkflow, outputNode: string): Promise<{ promptId: string; output?: SdkNodeOutput }> {
	const { CallWrapper } = loadSdk();
	let promptId = '';
	return new Promise((resolveJob, rejectJob) => {
		const settle = (data: unknown) => resolveJob({ promptId, output: (data as { output?: SdkNodeOutput }).output });
		const wrapper: SdkCallWrapper<string, 'output', SdkNodeData> = new CallWrapper(api, sdkPrompt(workflow, outputNode))
			.onPending((id) => {
				promptId = id ?? '';
			})
			.onFinished(settle)
			.onFailed((error) => rejectJob(new Error(`comfyui-sdk job ${promptId} failed: ${error.message}`)));
		wrapper.run().then((output) => {
			if (output) settle(output);
			else rejectJob(new Error(`comfyui-sdk job ${promptId} failed: no output`));
		}, rejectJob);
	});
}

/** api.getImage(ref), the SDK's download for servers with auth (a Blob), read as a stream into the sink. */
export async function sdkDownload(api: SdkComfyApi, ref: SdkImageRef): Promise<{ sha256: string; bytes: number }> {
	const blob = await api.getImage({ filename: ref.filename, subfolder: ref.subfolder ?? '', type: ref.type });
	return hashStream(blob.stream() as unknown as AsyncIterable<Uint8Array>);
}

/** One job through the SDK (run, then download every output when asked). */
export async function runSdk(api: SdkComfyApi, workflow: BenchWorkflow, download: boolean, outputNode: string = OUTPUT_NODE.image): Promise<JobOutcome> {
	const { promptId, output } = await sdkRun(api, workflow, outputNode);
	const listedAt = wallClockMs();
	const images = output?.images ?? [];
	const outcome: JobOutcome = { promptId, listedAt, files: images.length, bytes: 0 };
	if (download) {
		for (const image of images) outcome.bytes += (await sdkDownload(api, image)).bytes;
		outcome.downloadedAt = wallClockMs();
	}
	return outcome;
}

// ---------------------------------------------------------------------------------------------
// n8n-nodes-comfyui-media: its "ComfyUI Wf to Media" node, run by n8n-core's WorkflowExecute

export const MEDIA_NODE_TYPE = 'n8n-nodes-comfyui-media.comfyuiWfToMedia';

/**
 * Runs the community node once in a one-node n8n workflow (manual trigger → Wf to Media) with its
 * defaults (timeout 30 min; it polls /history every 10 s and downloads with this.helpers.request).
 * Its log lines (it prints every output structure) are silenced while it runs.
 */
export async function runComfyuiMedia(url: string, workflow: BenchWorkflow): Promise<JobOutcome & { items: INodeExecutionData[] }> {
	// Loaded lazily: n8n-core is heavy and only this adapter needs it.
	const { runWorkflow } = await import('../dev/n8n-harness');
	const { ComfyuiWfToMedia } = await import('n8n-nodes-comfyui-media/dist/nodes/ComfyUI/ComfyuiWfToMedia.node');
	const run = await withQuietConsole(() =>
		runWorkflow({
			workflow: {
				nodes: [
					{ id: 'a', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
					{
						id: 'b',
						name: 'Wf to Media',
						type: MEDIA_NODE_TYPE,
						typeVersion: 1,
						position: [200, 0],
						parameters: { workflow: JSON.stringify(workflow) },
						credentials: { comfyUIApi: { id: '1', name: 'ComfyUI' } },
					},
				],
				connections: { Start: { main: [[{ node: 'Wf to Media', type: 'main', index: 0 }]] } },
			},
			nodeTypes: { [MEDIA_NODE_TYPE]: new ComfyuiWfToMedia() },
			credentials: { comfyUIApi: { apiUrl: url, apiKey: '' } },
		}),
	);
	const downloadedAt = wallClockMs();
	if (run.error) throw new Error(`comfyui-media run failed: ${run.error.message}`);
	const items = run.output('Wf to Media');
	// The node does not return the prompt id; its items carry the history status, whose messages do.
	const status = items[0]?.json.status as { messages?: Array<[string, { prompt_id?: string }]> } | undefined;
	const promptId = status?.messages?.find((m) => m[0] === 'execution_success')?.[1]?.prompt_id ?? '';
	// `bytes` is set by n8n's binary data service; without it the data is base64 on the item.
	const bytes = items.reduce((sum, item) => {
		const binary = item.binary?.data;
		return sum + (typeof binary?.bytes === 'number' ? binary.bytes : Buffer.byteLength(binary?.data ?? '', 'base64'));
	}, 0);
	return { promptId, downloadedAt, files: items.length, bytes, items };
}

/**
 * n8n 2.x stores binary data on disk by default (N8N_DEFAULT_BINARY_DATA_MODE=filesystem; the
 * in-memory mode is gone). The test harness does not start n8n's BinaryDataService, so items would
 * keep their bytes base64 in memory; this registers a filesystem-mode service under `dir` the way
 * n8n's start-up does, so prepareBinaryData() behaves as in a real n8n 2.x instance.
 */
export async function useFilesystemBinaryData(dir: string): Promise<void> {
	const { Container } = await import('@n8n/di');
	const { BinaryDataService } = await import('n8n-core');
	type ServiceArgs = ConstructorParameters<typeof BinaryDataService>;
	const config = { mode: 'filesystem', availableModes: ['filesystem'], localStoragePath: dir, signingSecret: 'bench', dbMaxFileSize: 512 };
	const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
	// Only the fields the filesystem manager reads are provided (the real ones need n8n's whole config).
	const service = new BinaryDataService(config as unknown as ServiceArgs[0], quiet as unknown as ServiceArgs[1], quiet as unknown as ServiceArgs[2]);
	await service.init();
	Container.set(BinaryDataService, service);
}

export const PROMPTLAB_NODE_TYPE = 'n8n-nodes-promptlab.comfyUiExecute';

/**
 * Our ComfyUI Execute node (nodes/ComfyUiExecute), operation Generate with a raw workflow and no
 * Postgres credential, run by n8n-core's WorkflowExecute like the community node above.
 */
export async function runPromptlabNode(url: string, workflow: BenchWorkflow): Promise<{ files: number; bytes: number; items: INodeExecutionData[] }> {
	const { runWorkflow } = await import('../dev/n8n-harness');
	// Explicit .ts: under plain ts-node, require('…/ComfyUiExecute.node') finds the codex file
	// ComfyUiExecute.node.json first (Node tries .json before ts-node's .ts).
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { ComfyUiExecute } = require(resolve(__dirname, '../nodes/ComfyUiExecute/ComfyUiExecute.node.ts')) as typeof import('../nodes/ComfyUiExecute/ComfyUiExecute.node');
	const run = await runWorkflow({
		workflow: {
			nodes: [
				{ id: 'a', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: 'b',
					name: 'ComfyUI',
					type: PROMPTLAB_NODE_TYPE,
					typeVersion: 1,
					position: [200, 0],
					parameters: { resource: 'comfyui', operation: 'generate', source: 'workflow', workflow: JSON.stringify(workflow) },
					credentials: { comfyUiApi: { id: '1', name: 'ComfyUI' } },
				},
			],
			connections: { Start: { main: [[{ node: 'ComfyUI', type: 'main', index: 0 }]] } },
		},
		nodeTypes: { [PROMPTLAB_NODE_TYPE]: new ComfyUiExecute() },
		credentials: { comfyUiApi: { baseUrl: url, authentication: 'none' } },
	});
	if (run.error) throw new Error(`ComfyUI Execute run failed: ${run.error.message}`);
	const items = run.output('ComfyUI');
	const bytes = items.reduce((sum, item) => sum + Number(item.json.bytes ?? 0), 0);
	return { files: items.length, bytes, items };
}

let quietDepth = 0;
let savedLog: typeof console.log | undefined;

async function withQuietConsole<T>(fn: () => Promise<T>): Promise<T> {
	if (quietDepth++ === 0) {
		savedLog = console.log;
		console.log = () => undefined;
	}
	try {
		return await fn();
	} finally {
		if (--quietDepth === 0 && savedLog) console.log = savedLog;
	}
}

export function promptlabClient(url: string): ComfyUiClient {
	return new ComfyUiClient(promptlabConfig(url));
}
