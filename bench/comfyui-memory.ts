/**
 * Peak RSS growth while a client receives one 200 MB output. Each client runs in a FRESH child
 * process (RSS is per process); the simulator runs in another child so its memory does not count.
 *
 *   npx ts-node --transpile-only bench/comfyui-memory.ts [--mb 200] [--clients promptlab,promptlab-node,comfyui-sdk,comfyui-media]
 *
 * In the client process: warm-up (small image jobs + a 1 MB video job through the same code path),
 * GC, baseline RSS; then the kernel's peak-RSS mark is reset (/proc/self/clear_refs = 5) and a
 * worker thread samples RSS every 10 ms while the client runs the video job and sends the file to
 * a hashing sink. Peak = max(sampled RSS, VmHWM); growth = peak - baseline.
 * ours: ComfyUiClient.run() + download() stream; SDK: CallWrapper + api.getImage() (a Blob);
 * comfyui-media: its n8n node in n8n-core's WorkflowExecute (this.helpers.request + prepareBinaryData);
 * promptlab-node: our ComfyUI Execute node the same way. Both n8n paths use n8n 2.x's default
 * filesystem binary data mode (in a temp folder).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { closeAllComfyConnections } from '../lib/comfyui';
import {
	argNumber,
	argValue,
	benchWorkflow,
	bigOutputWorkflow,
	CLIENT_LABELS,
	connectSdk,
	hashStream,
	markdownTable,
	OUTPUT_NODE,
	promptlabClient,
	round,
	runComfyuiMedia,
	runPromptlab,
	runPromptlabNode,
	runSdk,
	sdkDownload,
	sdkRun,
	sleep,
	useFilesystemBinaryData,
	wallClockMs,
	writeResult,
	type ClientName,
} from './comfyui-common';
import { forkTs, startSimHost } from './comfyui-sim-host';

const MB = 2 ** 20;
const TARGET_GROWTH_MB = 64;
const WARMUP_VIDEO_BYTES = 1 * MB;

/** The three clients, plus our ComfyUI Execute node (the path n8n users get). */
type Variant = ClientName | 'promptlab-node';
const VARIANTS: Variant[] = ['promptlab', 'promptlab-node', 'comfyui-sdk', 'comfyui-media'];
const VARIANT_LABELS: Record<Variant, string> = { ...CLIENT_LABELS, 'promptlab-node': 'promptlab ComfyUI Execute node (n8n)' };

interface MemoryReport {
	client: Variant;
	label: string;
	outputBytes: number;
	sha256?: string;
	baselineRssMb: number;
	peakSampledRssMb: number;
	peakKernelRssMb: number;
	growthMb: number;
	samples: number;
	jobMs: number;
	heapUsedAfterMb: number;
	externalAfterMb: number;
	notes: string[];
	error?: string;
}

function statusKb(field: 'VmRSS' | 'VmHWM'): number {
	const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
	return match ? Number(match[1]) : Number.NaN;
}

/**
 * Process-wide RSS every 10 ms from a worker thread (it keeps sampling while the main thread is
 * busy). Started before the baseline is taken, because a worker thread itself costs RSS; `arm()`
 * then forgets the maximum seen so far.
 */
function startSampler(): { arm: () => void; stop: () => Promise<{ maxRss: number; samples: number }> } {
	const cells = new Float64Array(new SharedArrayBuffer(16));
	const worker = new Worker(
		`const { workerData } = require('node:worker_threads');
		const cells = new Float64Array(workerData);
		const tick = () => { const rss = process.memoryUsage.rss(); if (rss > cells[0]) cells[0] = rss; cells[1]++; };
		tick();
		setInterval(tick, 10);`,
		{ eval: true, workerData: cells.buffer },
	);
	return {
		arm() {
			cells[0] = 0;
			cells[1] = 0;
		},
		async stop() {
			await sleep(20);
			await worker.terminate();
			return { maxRss: cells[0], samples: cells[1] };
		},
	};
}

// ---------------------------------------------------------------------------------------------
// Child: one client, one process

async function childMain(client: Variant, url: string): Promise<void> {
	const ask = (message: string) =>
		new Promise<void>((resolve) => {
			process.once('message', () => resolve());
			process.send?.({ type: message });
		});
	const notes: string[] = [];
	let storage: string | undefined;
	if (client === 'promptlab-node' || client === 'comfyui-media') {
		storage = mkdtempSync(join(tmpdir(), 'comfyui-bench-binary-'));
		await useFilesystemBinaryData(storage);
		notes.push('n8n 2.x binary data mode "filesystem" (its default)');
	}
	let runBig: () => Promise<{ bytes: number; sha256?: string }>;
	if (client === 'promptlab') {
		const comfy = promptlabClient(url);
		for (let i = 0; i < 3; i++) await runPromptlab(comfy, benchWorkflow(7_000 + i), true);
		runBig = async () => {
			const result = await comfy.run(bigOutputWorkflow(7_100));
			const video = result.outputs.find((o) => o.filename.endsWith('.mp4'));
			if (!video) throw new Error('no video output');
			const downloaded = await comfy.download(video);
			return hashStream(downloaded.stream);
		};
		notes.push('ComfyUiClient.run() then download(file).stream piped into a SHA-256 sink');
	} else if (client === 'comfyui-sdk') {
		const api = await connectSdk(url);
		for (let i = 0; i < 3; i++) await runSdk(api, benchWorkflow(8_000 + i), true);
		runBig = async () => {
			const { output } = await sdkRun(api, bigOutputWorkflow(8_100), OUTPUT_NODE.video);
			const ref = output?.images?.[0];
			if (!ref) throw new Error('no video output');
			return sdkDownload(api, ref);
		};
		notes.push('CallWrapper → api.getImage(ref) (fetch → Response.blob()), then blob.stream() into a SHA-256 sink');
	} else if (client === 'promptlab-node') {
		for (let i = 0; i < 3; i++) await runPromptlabNode(url, benchWorkflow(6_000 + i));
		runBig = async () => {
			const outcome = await runPromptlabNode(url, bigOutputWorkflow(6_100));
			return { bytes: outcome.bytes, sha256: String(outcome.items[0]?.json.sha256 ?? '') };
		};
		notes.push('nodes/ComfyUiExecute Generate (raw workflow, no Postgres) in n8n-core WorkflowExecute: download stream → hashing Transform → prepareBinaryData(stream)');
	} else {
		for (let i = 0; i < 1; i++) await runComfyuiMedia(url, benchWorkflow(9_000 + i));
		runBig = async () => {
			const outcome = await runComfyuiMedia(url, bigOutputWorkflow(9_100));
			return { bytes: outcome.bytes };
		};
		notes.push('its n8n node: this.helpers.request({encoding: null}) buffers the whole body, then prepareBinaryData(buffer)');
	}
	// Warm the big-file path with a small file of the same kind.
	await ask('warm-video');
	await runBig();
	await ask('go');
	const sampler = startSampler();
	await sleep(200);
	global.gc?.();
	await sleep(200);
	global.gc?.();
	const baseline = statusKb('VmRSS') * 1024;
	writeFileSync('/proc/self/clear_refs', '5');
	sampler.arm();
	const started = wallClockMs();
	let result: { bytes: number; sha256?: string } = { bytes: 0 };
	let error: string | undefined;
	try {
		result = await runBig();
	} catch (caught) {
		error = caught instanceof Error ? caught.message : String(caught);
	}
	const jobMs = wallClockMs() - started;
	const { maxRss, samples } = await sampler.stop();
	const hwm = statusKb('VmHWM') * 1024;
	const memory = process.memoryUsage();
	const report: MemoryReport = {
		client,
		label: VARIANT_LABELS[client],
		outputBytes: result.bytes,
		sha256: result.sha256,
		baselineRssMb: round(baseline / MB, 1),
		peakSampledRssMb: round(maxRss / MB, 1),
		peakKernelRssMb: round(hwm / MB, 1),
		growthMb: round((Math.max(maxRss, hwm) - baseline) / MB, 1),
		samples,
		jobMs: round(jobMs, 0),
		heapUsedAfterMb: round(memory.heapUsed / MB, 1),
		externalAfterMb: round((memory.external + memory.arrayBuffers) / MB, 1),
		notes,
		error,
	};
	if (client === 'promptlab' || client === 'promptlab-node') await closeAllComfyConnections();
	if (storage) rmSync(storage, { recursive: true, force: true });
	process.send?.({ type: 'report', report });
}

// ---------------------------------------------------------------------------------------------
// Parent

async function measureInChild(client: Variant, url: string, setSize: (bytes: number) => Promise<void>, bigBytes: number): Promise<MemoryReport> {
	const child = forkTs('comfyui-memory.ts', ['--child', client, url]);
	return new Promise<MemoryReport>((resolve, reject) => {
		let report: MemoryReport | undefined;
		child.on('message', (message: { type: string; report?: MemoryReport }) => {
			if (message.type === 'warm-video') void setSize(WARMUP_VIDEO_BYTES).then(() => child.send('ok'));
			else if (message.type === 'go') void setSize(bigBytes).then(() => child.send('ok'));
			else if (message.type === 'report') {
				report = message.report;
				child.kill();
			}
		});
		child.on('exit', (code) => (report ? resolve(report) : reject(new Error(`${client} child exited with ${code} before reporting`))));
	});
}

async function main(): Promise<void> {
	const megabytes = argNumber('mb', 200);
	const bigBytes = megabytes * MB;
	const wanted = argValue('clients');
	const clients = wanted ? (wanted.split(',') as Variant[]) : VARIANTS;
	for (const c of clients) if (!VARIANTS.includes(c)) throw new Error(`unknown variant ${c} (${VARIANTS.join(', ')})`);
	const sim = await startSimHost('child', { nodeTimeMs: 1, cache: false });
	const reports: MemoryReport[] = [];
	try {
		for (const client of clients) {
			process.stderr.write(`memory: ${client}…\n`);
			try {
				reports.push(await measureInChild(client, sim.url, (bytes) => sim.setFaults({ outputSizeBytes: bytes }), bigBytes));
			} catch (error) {
				process.stderr.write(`${client}: ${error instanceof Error ? error.message : String(error)}\n`);
			}
		}
	} finally {
		await sim.stop();
	}
	const table = markdownTable(
		['client', 'received MB', 'baseline RSS MB', 'peak RSS MB', 'growth MB', 'job s', 'how the bytes travel'],
		reports.map((r) => [r.label, round(r.outputBytes / MB, 1), r.baselineRssMb, Math.max(r.peakSampledRssMb, r.peakKernelRssMb), r.growthMb, round(r.jobMs / 1000, 1), r.error ? `ERROR ${r.error}` : r.notes.join('; ')]),
	);
	const ours = reports.find((r) => r.client === 'promptlab');
	const target = { metric: `promptlab peak RSS growth receiving ${megabytes} MB (MB)`, max: TARGET_GROWTH_MB, value: ours?.growthMb ?? null, pass: ours ? ours.growthMb <= TARGET_GROWTH_MB && ours.outputBytes === bigBytes : null };
	const command = `npx ts-node --transpile-only bench/comfyui-memory.ts --mb ${megabytes}`;
	const path = writeResult('memory', {
		command,
		settings: { outputBytes: bigBytes, samplingMs: 10, simulator: 'child process', warmup: '3 image jobs (1 for comfyui-media) + one 1 MB video job', clientProcess: 'fresh child per client (ts-node, --expose-gc)' },
		target,
		reports,
		table,
	});
	process.stdout.write(`\nPeak RSS growth while receiving a ${megabytes} MB output (fresh process per client, simulator in another process)\n\n${table}\n\n`);
	process.stdout.write(`target: ours growth ≤ ${TARGET_GROWTH_MB} MB → ${target.value} MB: ${target.pass ? 'PASS' : 'FAIL'}\nwritten ${path}\n`);
}

if (process.argv[2] === '--child') {
	childMain(process.argv[3] as Variant, process.argv[4]).catch((error: unknown) => {
		process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
		process.exit(1);
	});
} else {
	main().then(
		() => process.exit(0),
		(error: unknown) => {
			process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
			process.exit(1);
		},
	);
}
