/**
 * Pool of 4 servers of unequal speed (per-node time 10/10/20/40 ms, i.e. 1×, 1×, 2×, 4× slower),
 * 200 jobs: makespan against the ideal = total work / total capacity.
 *
 *   npx ts-node --transpile-only bench/comfyui-pool.ts [--jobs 200] [--callers 8,16] [--steps 2] [--sim child|inproc] [--clients promptlab,comfyui-sdk]
 *
 * Two arrival patterns:
 *  - burst: all jobs handed to the pool at once (an n8n node receiving 200 items and starting them all);
 *  - N callers: closed loop, each caller starting its next job when its previous one is done.
 * Ours: ComfyServerPool.run(). @saintno/comfyui-sdk: its ComfyPool (default mode PICK_ZERO) with
 * pool.run(job) per job. n8n-nodes-comfyui-media has no pool (one server URL per credential).
 */
import { closeAllComfyConnections, ComfyServerPool, ComfyUiClient } from '../lib/comfyui';
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

/**
 * NOT our client's behaviour: a bench-side prototype of the change suggested in the report, built
 * on ComfyUiClient (one per server). At most `cap` of this process's jobs sit on a server (one
 * running, one queued so the server never idles); further jobs wait in a FIFO here and go to the
 * first server with a free slot, preferring the one with the shortest expected finish
 * ((jobs there + 1) × its mean job time so far).
 */
class HoldBackDispatcher {
	private readonly load: number[];
	private readonly jobMs: Array<{ sum: number; n: number }>;
	private readonly waiting: Array<() => void> = [];

	constructor(
		private readonly clients: ComfyUiClient[],
		private readonly cap: number,
	) {
		this.load = clients.map(() => 0);
		this.jobMs = clients.map(() => ({ sum: 0, n: 0 }));
	}

	private pick(): number | undefined {
		const known = this.jobMs.filter((j) => j.n > 0);
		const fallback = known.length ? Math.min(...known.map((j) => j.sum / j.n)) : 1;
		let best: number | undefined;
		let bestFinish = Infinity;
		for (let i = 0; i < this.clients.length; i++) {
			if (this.load[i] >= this.cap) continue;
			const mean = this.jobMs[i].n ? this.jobMs[i].sum / this.jobMs[i].n : fallback;
			const finish = (this.load[i] + 1) * mean;
			if (finish < bestFinish) {
				best = i;
				bestFinish = finish;
			}
		}
		return best;
	}

	async run(workflow: unknown): Promise<{ promptId: string; server: number }> {
		let index = this.pick();
		while (index === undefined) {
			await new Promise<void>((wake) => this.waiting.push(wake));
			index = this.pick();
		}
		this.load[index]++;
		try {
			const result = await this.clients[index].run(workflow);
			this.jobMs[index].sum += result.timings.durationMs;
			this.jobMs[index].n++;
			return { promptId: result.promptId, server: index };
		} finally {
			this.load[index]--;
			this.waiting.shift()?.();
		}
	}
}

async function runHoldBackPrototype(sims: SimHost[], pattern: Pattern, jobs: number, seedBase: number): Promise<PoolRun> {
	const dispatcher = new HoldBackDispatcher(
		sims.map((s) => new ComfyUiClient(s.url)),
		2,
	);
	await Promise.all(Array.from({ length: 8 }, (_, i) => dispatcher.run(benchWorkflow(seedBase + 900_000 + i, STEPS))));
	await Promise.all(sims.map(async (s) => { await s.idle(); await s.reset(); }));
	const { makespanMs, outcomes, errors } = await drive(pattern, jobs, (i) => dispatcher.run(benchWorkflow(seedBase + i, STEPS)));
	await closeAllComfyConnections();
	const run = await analyse('promptlab', patternName(pattern, jobs), sims, jobs, makespanMs, outcomes, errors);
	return { ...run, label: 'PROTOTYPE (bench only): hold-back, 2 per server', pass: false };
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

async function main(): Promise<void> {
	const jobs = argNumber('jobs', 200);
	const callers = (argValue('callers') ?? '8,16').split(',').map(Number);
	const steps = STEPS;
	const layout = (argValue('sim') ?? 'child') as SimLayout;
	const clients = selectedClients().filter((c) => c !== 'comfyui-media');
	const sims = await Promise.all(NODE_TIMES_MS.map((t) => startSimHost(layout, { nodeTimeMs: t, cache: false })));
	const runs: PoolRun[] = [];
	try {
		let seedBase = 0;
		for (const client of clients) {
			for (const pattern of ['burst', ...callers] as Pattern[]) {
				seedBase += 10_000_000;
				process.stderr.write(`pool: ${client} ${pattern}…\n`);
				runs.push(client === 'promptlab' ? await runPromptlab(sims, pattern, jobs, seedBase) : await runSdkPool(sims, pattern, jobs, seedBase));
			}
		}
		if (clients.includes('promptlab') && !process.argv.includes('--no-prototype')) {
			for (const pattern of ['burst', ...callers] as Pattern[]) {
				seedBase += 10_000_000;
				process.stderr.write(`pool: hold-back prototype ${pattern}…\n`);
				runs.push(await runHoldBackPrototype(sims, pattern, jobs, seedBase));
			}
		}
	} finally {
		await Promise.all(sims.map((s) => s.stop()));
	}
	const ideal = configuredIdealMs(jobs);
	const table = markdownTable(
		['client', 'arrival', 'makespan ms', 'ideal ms', 'ratio', 'ratio vs measured capacity', 'jobs per server (1×,1×,2×,4×)', 'errors'],
		[
			...runs.map((r) => [r.label, r.pattern, r.makespanMs, r.idealMs, r.ratio.toFixed(3), `${r.ratioMeasured.toFixed(3)} (ideal ${r.idealMeasuredMs} ms)`, r.jobsPerServer.join(' / '), r.errors]),
			[CLIENT_LABELS['comfyui-media'], '—', 'not supported (no pool: one server URL per credential)', '', '', '', '', ''],
		],
	);
	const ours = runs.filter((r) => r.label === CLIENT_LABELS.promptlab);
	const command = `npx ts-node --transpile-only bench/comfyui-pool.ts --jobs ${jobs} --callers ${callers.join(',')} --steps ${steps} --sim ${layout}`;
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
		},
		target: { metric: 'makespan / ideal', max: TARGET_RATIO, promptlab: ours.map((r) => ({ pattern: r.pattern, ratio: r.ratio, pass: r.pass })) },
		runs,
		table,
	});
	process.stdout.write(
		`\nPool of 4 servers, per-node time ${NODE_TIMES_MS.join('/')} ms × ${NODES_PER_JOB} nodes, ${jobs} jobs; ideal = ${round(ideal, 0)} ms\n\n${table}\n\n`,
	);
	for (const r of ours) process.stdout.write(`target (${r.pattern}): makespan ≤ ${TARGET_RATIO} × ideal → ${r.ratio}: ${r.pass ? 'PASS' : 'FAIL'}\n`);
	process.stdout.write(`written ${path}\n`);
}

main().then(
	() => process.exit(0),
	(error: unknown) => {
		process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
		process.exit(1);
	},
);
