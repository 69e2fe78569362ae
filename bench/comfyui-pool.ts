/**
 * Pool of 4 servers of unequal speed (per-node time 10/10/20/40 ms, i.e. 1×, 1×, 2×, 4× slower),
 * 200 jobs: makespan against the ideal = total work / total capacity.
 *
 *   npx ts-node --transpile-only bench/comfyui-pool.ts [--jobs 200] [--callers 8,16] [--steps 2] [--repeat 3] [--sim child|inproc] [--clients promptlab,comfyui-sdk]
 *
 * Two arrival patterns:
 *  - burst: all jobs handed to the pool at once (an n8n node receiving 200 items and starting them all);
 *  - N callers: closed loop, each caller starting its next job when its previous one is done.
 * Ours: ComfyServerPool.run(). @saintno/comfyui-sdk: its ComfyPool (default mode PICK_ZERO) with
 * pool.run(job) per job. n8n-nodes-comfyui-media has no pool (one server URL per credential).
 * Each (client, pattern) runs `--repeat` times, interleaved, on a machine that may be shared: the
 * table gives the median run and the spread.
 */
import { closeAllComfyConnections, ComfyServerPool } from '../lib/comfyui';
import {
	argNumber,
	argValue,
	benchWorkflow,
	CLIENT_LABELS,
	loadSdk,
	markdownTable,
	round,
	runSdk,
	selectedClients,
	summarize,
	wallClockMs,
	withTimeout,
	writeResult,
	type ClientName,
	type SdkComfyApi,
	type Summary,
} from './comfyui-common';
import { startSimHost, type SimHost, type SimLayout } from './comfyui-sim-host';

const NODE_TIMES_MS = [10, 10, 20, 40];
/** Nodes of the benchmark graph that run per job (txt2img: 7, KSampler's time spread over its steps). */
const NODES_PER_JOB = 7;
const JOB_TIMEOUT_MS = 60_000;
/**
 * KSampler steps. The simulator spreads KSampler's node time over its steps and sleeps whole
 * milliseconds; every Node.js timer fires a little late, so many short sleeps make a server slower
 * than configured. Few steps keep the servers close to their nominal speed.
 */
const STEPS = argNumber('steps', 2);
const TARGET_RATIO = 1.15;

/** 'burst', or a number of closed-loop callers. */
type Pattern = 'burst' | number;

interface PoolRun {
	client: ClientName;
	label: string;
	pattern: string;
	jobs: number;
	completed: number;
	errors: number;
	makespanMs: number;
	/** 200 / Σ speeds, speeds from the configured node times */
	idealMs: number;
	ratio: number;
	/** 200 / Σ measured speeds (each server's mean execution_start → history write in this run) */
	idealMeasuredMs: number;
	ratioMeasured: number;
	jobsPerServer: number[];
	busyPerJobMs: Summary[];
	pass: boolean;
}

function configuredIdealMs(jobs: number): number {
	const speeds = NODE_TIMES_MS.map((t) => 1000 / (t * NODES_PER_JOB));
	return (jobs / speeds.reduce((a, b) => a + b, 0)) * 1000;
}

async function analyse(
	client: ClientName,
	pattern: string,
	sims: SimHost[],
	jobs: number,
	makespanMs: number,
	outcomes: Array<{ promptId: string; server: number }>,
	errors: number,
): Promise<PoolRun> {
	const jobsPerServer = sims.map((_, i) => outcomes.filter((o) => o.server === i).length);
	const busyPerJobMs: Summary[] = [];
	const measuredSpeeds: number[] = [];
	for (const [i, sim] of sims.entries()) {
		const ids = outcomes.filter((o) => o.server === i).map((o) => o.promptId);
		const finish = await sim.finishTimes(ids);
		const busy = Object.values(finish)
			.filter((f) => f.startAt !== undefined && f.historyAt !== undefined)
			.map((f) => (f.historyAt as number) - (f.startAt as number));
		const summary = summarize(busy);
		busyPerJobMs.push(summary);
		// A server that got no job still had its capacity: fall back to the configured speed.
		measuredSpeeds.push(busy.length ? 1000 / summary.mean : 1000 / (NODE_TIMES_MS[i] * NODES_PER_JOB));
	}
	const idealMs = configuredIdealMs(jobs);
	const idealMeasuredMs = (jobs / measuredSpeeds.reduce((a, b) => a + b, 0)) * 1000;
	return {
		client,
		label: CLIENT_LABELS[client],
		pattern,
		jobs,
		completed: outcomes.length,
		errors,
		makespanMs: round(makespanMs, 0),
		idealMs: round(idealMs, 0),
		ratio: round(makespanMs / idealMs, 3),
		idealMeasuredMs: round(idealMeasuredMs, 0),
		ratioMeasured: round(makespanMs / idealMeasuredMs, 3),
		jobsPerServer,
		busyPerJobMs,
		pass: errors === 0 && makespanMs <= TARGET_RATIO * idealMs,
	};
}

/** Starts `jobs` jobs through `start`, either all at once or from `pattern` closed-loop callers. */
async function drive(
	pattern: Pattern,
	jobs: number,
	start: (index: number) => Promise<{ promptId: string; server: number }>,
): Promise<{ makespanMs: number; outcomes: Array<{ promptId: string; server: number }>; errors: number }> {
	const outcomes: Array<{ promptId: string; server: number }> = [];
	let errors = 0;
	const one = async (index: number) => {
		try {
			outcomes.push(await withTimeout(start(index), JOB_TIMEOUT_MS, `job ${index}`));
		} catch (error) {
			errors++;
			process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
		}
	};
	const began = wallClockMs();
	if (pattern === 'burst') {
		await Promise.all(Array.from({ length: jobs }, (_, i) => one(i)));
	} else {
		let next = 0;
		await Promise.all(
			Array.from({ length: pattern }, async () => {
				while (next < jobs) await one(next++);
			}),
		);
	}
	return { makespanMs: wallClockMs() - began, outcomes, errors };
}

function patternName(pattern: Pattern, jobs: number): string {
	return pattern === 'burst' ? `burst of ${jobs}` : `${pattern} callers`;
}

async function runPromptlab(sims: SimHost[], pattern: Pattern, jobs: number, seedBase: number): Promise<PoolRun> {
	const urls = sims.map((s) => s.url);
	const pool = new ComfyServerPool(urls);
	// Warm-up: sockets to every server, JIT; then forget what the servers recorded.
	await Promise.all(Array.from({ length: 8 }, (_, i) => pool.run(benchWorkflow(seedBase + 900_000 + i, STEPS))));
	await Promise.all(sims.map(async (s) => { await s.idle(); await s.reset(); }));
	const { makespanMs, outcomes, errors } = await drive(pattern, jobs, async (i) => {
		const result = await pool.run(benchWorkflow(seedBase + i, STEPS));
		return { promptId: result.promptId, server: urls.indexOf(result.server) };
	});
	await closeAllComfyConnections();
	return analyse('promptlab', patternName(pattern, jobs), sims, jobs, makespanMs, outcomes, errors);
}

async function runSdkPool(sims: SimHost[], pattern: Pattern, jobs: number, seedBase: number): Promise<PoolRun> {
	const { ComfyApi, ComfyPool } = loadSdk();
	const apis: SdkComfyApi[] = sims.map((s) => new ComfyApi(s.url));
	const pool = new ComfyPool(apis);
	const ready = new Set<number>();
	pool.on('ready', (event) => ready.add((event as CustomEvent<{ clientIdx: number }>).detail.clientIdx));
	for (let i = 0; i < 1_000 && ready.size < apis.length; i++) await new Promise((r) => setTimeout(r, 10));
	const job = (seed: number) => (api: SdkComfyApi, index?: number) =>
		runSdk(api, benchWorkflow(seed, STEPS), false).then((o) => ({ promptId: o.promptId, server: index ?? apis.indexOf(api) }));
	await Promise.all(Array.from({ length: 8 }, (_, i) => pool.run(job(seedBase + 900_000 + i))));
	await Promise.all(sims.map(async (s) => { await s.idle(); await s.reset(); }));
	const { makespanMs, outcomes, errors } = await drive(pattern, jobs, (i) => pool.run(job(seedBase + i)));
	pool.removeAllListeners();
	for (const api of apis) api.destroy();
	return analyse('comfyui-sdk', patternName(pattern, jobs), sims, jobs, makespanMs, outcomes, errors);
}

interface PatternSummary {
	client: ClientName;
	label: string;
	pattern: string;
	repeats: number;
	/** The run with the median ratio. */
	median: PoolRun;
	ratios: number[];
	errors: number;
	pass: boolean;
}

function summarizeRuns(runs: PoolRun[]): PatternSummary[] {
	const groups = new Map<string, PoolRun[]>();
	for (const run of runs) {
		const key = `${run.label}|${run.pattern}`;
		groups.set(key, [...(groups.get(key) ?? []), run]);
	}
	return [...groups.values()].map((group) => {
		const sorted = [...group].sort((a, b) => a.ratio - b.ratio);
		const median = sorted[Math.floor((sorted.length - 1) / 2)];
		const errors = group.reduce((n, r) => n + r.errors, 0);
		return {
			client: median.client,
			label: median.label,
			pattern: median.pattern,
			repeats: group.length,
			median,
			ratios: group.map((r) => r.ratio),
			errors,
			pass: errors === 0 && median.ratio <= TARGET_RATIO,
		};
	});
}

async function main(): Promise<void> {
	const jobs = argNumber('jobs', 200);
	const callers = (argValue('callers') ?? '8,16').split(',').map(Number);
	const repeat = Math.max(1, Math.floor(argNumber('repeat', 3)));
	const steps = STEPS;
	const layout = (argValue('sim') ?? 'child') as SimLayout;
	const clients = selectedClients().filter((c) => c !== 'comfyui-media');
	const sims = await Promise.all(NODE_TIMES_MS.map((t) => startSimHost(layout, { nodeTimeMs: t, cache: false })));
	const runs: Array<PoolRun & { repeat: number }> = [];
	try {
		let seedBase = 0;
		// Interleaved, so a busy spell of the machine does not land on one client or pattern only.
		for (let r = 1; r <= repeat; r++) {
			for (const client of clients) {
				for (const pattern of ['burst', ...callers] as Pattern[]) {
					seedBase += 10_000_000;
					process.stderr.write(`pool: run ${r}/${repeat} ${client} ${pattern}…\n`);
					const run = client === 'promptlab' ? await runPromptlab(sims, pattern, jobs, seedBase) : await runSdkPool(sims, pattern, jobs, seedBase);
					runs.push({ ...run, repeat: r });
				}
			}
		}
	} finally {
		await Promise.all(sims.map((s) => s.stop()));
	}
	const ideal = configuredIdealMs(jobs);
	const summaries = summarizeRuns(runs);
	const spread = (values: number[]) => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;
	const table = markdownTable(
		[
			'client',
			'arrival',
			'makespan ms (median run)',
			'ideal ms',
			'ratio (median)',
			`ratio, all ${repeat} runs`,
			'ratio vs measured capacity (median run)',
			'jobs per server (1×,1×,2×,4×)',
			'errors',
		],
		[
			...summaries.map((x) => [
				x.label,
				x.pattern,
				x.median.makespanMs,
				x.median.idealMs,
				x.median.ratio.toFixed(3),
				spread(x.ratios),
				`${x.median.ratioMeasured.toFixed(3)} (ideal ${x.median.idealMeasuredMs} ms)`,
				x.median.jobsPerServer.join(' / '),
				x.errors,
			]),
			[CLIENT_LABELS['comfyui-media'], '—', 'not supported (no pool: one server URL per credential)', '', '', '', '', '', ''],
		],
	);
	const ours = summaries.filter((x) => x.client === 'promptlab');
	const command = `npx ts-node --transpile-only bench/comfyui-pool.ts --jobs ${jobs} --callers ${callers.join(',')} --steps ${steps} --repeat ${repeat} --sim ${layout}`;
	const path = writeResult('pool', {
		command,
		settings: {
			nodeTimesMs: NODE_TIMES_MS,
			nodesPerJob: NODES_PER_JOB,
			configuredJobMs: NODE_TIMES_MS.map((t) => t * NODES_PER_JOB),
			idealMs: round(ideal, 0),
			idealFormula: `${jobs} / Σ(1000 / (nodeTime × ${NODES_PER_JOB})) s`,
			simLayout: layout,
			workflow: `txt2img 64×64, ${steps} steps, 7 nodes, fresh seed per job, cache off`,
			repeat,
		},
		target: {
			metric: 'makespan / ideal, median of the repeated runs',
			max: TARGET_RATIO,
			promptlab: ours.map((x) => ({ pattern: x.pattern, ratio: x.median.ratio, ratios: x.ratios, pass: x.pass })),
		},
		runs,
		table,
	});
	process.stdout.write(
		`\nPool of 4 servers, per-node time ${NODE_TIMES_MS.join('/')} ms × ${NODES_PER_JOB} nodes, ${jobs} jobs; ideal = ${round(ideal, 0)} ms\n\n${table}\n\n`,
	);
	for (const x of ours) {
		process.stdout.write(`target (${x.pattern}): makespan ≤ ${TARGET_RATIO} × ideal → median ${x.median.ratio} (${spread(x.ratios)}): ${x.pass ? 'PASS' : 'FAIL'}\n`);
	}
	process.stdout.write(`written ${path}\n`);
}

main().then(
	() => process.exit(0),
	(error: unknown) => {
		process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
		process.exit(1);
	},
);
