/**
 * Completion latency overhead: from the moment the server finished a prompt to the moment the
 * client has the outputs listed (and, separately, downloaded). Jobs run one after another with a
 * small node time, so each measurement is one client reacting to one finished prompt.
 *
 *   npx ts-node --transpile-only bench/comfyui-latency.ts [--jobs 200] [--media-jobs 5] [--sim inproc|child] [--clients ...]
 *
 * Server finish = the simulator's execution_success timestamp in the history entry (whole ms; the
 * history entry is written ~1 ms later, also reported). Client side: sub-ms wall clock.
 */
import { closeAllComfyConnections } from '../lib/comfyui';
import {
	argNumber,
	argValue,
	benchWorkflow,
	CLIENT_LABELS,
	connectSdk,
	markdownTable,
	promptlabClient,
	round,
	runComfyuiMedia,
	runPromptlab,
	runSdk,
	selectedClients,
	summarize,
	writeResult,
	type ClientName,
	type JobOutcome,
	type Summary,
} from './comfyui-common';
import { startSimHost, type SimHost, type SimLayout } from './comfyui-sim-host';

const NODE_TIME_MS = 2;
const WARMUP_JOBS = 5;

interface ClientLatency {
	client: ClientName;
	label: string;
	jobs: number;
	/** finish (execution_success) → outputs listed */
	listed: Summary;
	/** history entry written → outputs listed */
	listedAfterHistoryWrite: Summary;
	/** finish → every output downloaded */
	downloaded: Summary;
	/** submit → outputs listed (whole job as the caller sees it) */
	jobTotal?: Summary;
	completion: string;
	notes: string[];
}

const COMPLETION: Record<ClientName, string> = {
	promptlab: 'WebSocket (executing{node:null} → GET /history/{id}); /history poll every 5 s beside it',
	'comfyui-sdk': 'WebSocket `executed` of the output node (history not read); resolves before execution_success',
	'comfyui-media': 'polls GET /history/{id} every 10 s (fixed sleep before each poll), no WebSocket',
};

async function measure(client: ClientName, sim: SimHost, jobs: number, seedBase: number): Promise<ClientLatency> {
	const outcomes: Array<JobOutcome & { submittedAt: number }> = [];
	const notes: string[] = [];
	let runOne: (seed: number) => Promise<JobOutcome>;
	let close = async () => undefined as void;
	if (client === 'promptlab') {
		const comfy = promptlabClient(sim.url);
		runOne = (seed) => runPromptlab(comfy, benchWorkflow(seed), true);
		close = () => closeAllComfyConnections();
	} else if (client === 'comfyui-sdk') {
		const api = await connectSdk(sim.url);
		runOne = (seed) => runSdk(api, benchWorkflow(seed), true);
		close = async () => api.destroy();
	} else {
		runOne = async (seed) => {
			const outcome = await runComfyuiMedia(sim.url, benchWorkflow(seed));
			// The node lists and downloads inside one execute(): its GET /view reaching the server
			// is the first sign that it has the list.
			const fileName = String(outcome.items[0]?.json.fileName ?? '');
			const times = await sim.requestTimes([`filename=${fileName}`]);
			return { ...outcome, listedAt: times[`filename=${fileName}`] };
		};
		notes.push('listed = arrival of its GET /view at the simulator (the node lists and downloads inside one execute()); whole-ms clock');
		notes.push(`${jobs} jobs only: each takes ≥ 10 s because of the fixed poll interval`);
	}
	const warmup = client === 'comfyui-media' ? 0 : WARMUP_JOBS;
	for (let i = 0; i < warmup; i++) await runOne(seedBase + 100_000 + i);
	await sim.reset();
	for (let i = 0; i < jobs; i++) {
		const submittedAt = performance.timeOrigin + performance.now();
		outcomes.push({ ...(await runOne(seedBase + i)), submittedAt });
	}
	await close();
	const finish = await sim.finishTimes(outcomes.map((o) => o.promptId));
	const listed: number[] = [];
	const listedAfterWrite: number[] = [];
	const downloaded: number[] = [];
	const total: number[] = [];
	for (const o of outcomes) {
		const f = finish[o.promptId];
		if (!f?.successAt) throw new Error(`${client}: no execution_success in history for ${o.promptId}`);
		if (o.listedAt !== undefined) listed.push(o.listedAt - f.successAt);
		if (o.listedAt !== undefined && f.historyAt !== undefined) listedAfterWrite.push(o.listedAt - f.historyAt);
		if (o.downloadedAt !== undefined) downloaded.push(o.downloadedAt - f.successAt);
		if (o.listedAt !== undefined && client !== 'comfyui-media') total.push(o.listedAt - o.submittedAt);
	}
	return {
		client,
		label: CLIENT_LABELS[client],
		jobs,
		listed: summarize(listed),
		listedAfterHistoryWrite: summarize(listedAfterWrite),
		downloaded: summarize(downloaded),
		jobTotal: total.length ? summarize(total) : undefined,
		completion: COMPLETION[client],
		notes,
	};
}

async function main(): Promise<void> {
	const jobs = argNumber('jobs', 200);
	const mediaJobs = argNumber('media-jobs', 5);
	const layout = (argValue('sim') ?? 'inproc') as SimLayout;
	const clients = selectedClients();
	const sim = await startSimHost(layout, { nodeTimeMs: NODE_TIME_MS, cache: false });
	const results: ClientLatency[] = [];
	try {
		for (const [index, client] of clients.entries()) {
			process.stderr.write(`latency: ${client}…\n`);
			results.push(await measure(client, sim, client === 'comfyui-media' ? mediaJobs : jobs, (index + 1) * 1_000_000));
		}
	} finally {
		await sim.stop();
	}
	const ours = results.find((r) => r.client === 'promptlab');
	const target = { metric: 'promptlab listed p50 (ms)', max: 25, value: ours ? round(ours.listed.p50, 2) : null, pass: ours ? ours.listed.p50 <= 25 : null };
	const table = markdownTable(
		['client', 'jobs', 'listed p50 ms', 'listed p99 ms', 'after history write p50', 'downloaded p50 ms', 'downloaded p99 ms', 'how it learns of completion'],
		results.map((r) => [
			r.label,
			r.jobs,
			r.listed.p50,
			r.listed.p99,
			r.listedAfterHistoryWrite.p50,
			r.downloaded.p50,
			r.downloaded.p99,
			r.completion,
		]),
	);
	const command = `npx ts-node --transpile-only bench/comfyui-latency.ts --jobs ${jobs} --media-jobs ${mediaJobs} --sim ${layout}`;
	const path = writeResult('latency', {
		command,
		settings: { nodeTimeMs: NODE_TIME_MS, workflow: 'txt2img 64×64, 20 steps, 7 nodes, fresh seed per job, cache off', warmupJobs: WARMUP_JOBS, simLayout: layout },
		target,
		results,
		table,
	});
	process.stdout.write(`\nCompletion latency overhead (server finished → outputs in hand), node time ${NODE_TIME_MS} ms, sim ${layout}\n\n${table}\n\n`);
	process.stdout.write(`target: ours p50 ≤ 25 ms → ${target.value} ms: ${target.pass ? 'PASS' : 'FAIL'}\nwritten ${path}\n`);
}

main().then(
	() => process.exit(0),
	(error: unknown) => {
		process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
		process.exit(1);
	},
);
