/**
 * Throughput with zero-length jobs: 16 callers in flight, each starting its next job as soon as
 * the previous one has its outputs listed. Every node takes 0 ms on the simulator, so what is left
 * is protocol, client and simulator overhead.
 *
 *   npx ts-node --transpile-only bench/comfyui-throughput.ts [--jobs 1000] [--media-jobs 32] [--concurrency 16] [--sim child|inproc] [--clients ...]
 *
 * The simulator runs one prompt at a time like ComfyUI, so it also caps throughput: the run also
 * reports the simulator's own busy time per job (execution_start, whole ms, → history write), whose
 * inverse is roughly the most jobs/s one simulator can serve.
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
	wallClockMs,
	withTimeout,
	writeResult,
	type ClientName,
	type JobOutcome,
	type Summary,
} from './comfyui-common';
import { startSimHost, type SimHost, type SimLayout } from './comfyui-sim-host';

/** A job that has no result after this long counts as an error (comfyui-media needs ≥ 10 s). */
const JOB_TIMEOUT_MS = 30_000;

interface Variant {
	name: string;
	client: ClientName;
	download: boolean;
}

interface ThroughputResult {
	variant: string;
	client: ClientName;
	label: string;
	download: boolean;
	jobs: number;
	concurrency: number;
	elapsedMs: number;
	jobsPerSecond: number;
	/** submit → listed, per job */
	jobLatency: Summary;
	/** execution_start → history written, on the simulator */
	simBusyPerJob: Summary;
	errors: number;
}

async function runVariant(variant: Variant, sim: SimHost, jobs: number, concurrency: number, seedBase: number): Promise<ThroughputResult> {
	let runOne: (seed: number) => Promise<JobOutcome>;
	let close = async () => undefined as void;
	if (variant.client === 'promptlab') {
		const comfy = promptlabClient(sim.url);
		runOne = (seed) => runPromptlab(comfy, benchWorkflow(seed), variant.download);
		close = () => closeAllComfyConnections();
	} else if (variant.client === 'comfyui-sdk') {
		const api = await connectSdk(sim.url);
		runOne = (seed) => runSdk(api, benchWorkflow(seed), variant.download);
		close = async () => api.destroy();
	} else {
		runOne = (seed) => runComfyuiMedia(sim.url, benchWorkflow(seed));
	}
	// Warm-up: one round of the same concurrency (JIT, sockets, keep-alive pools).
	if (variant.client !== 'comfyui-media') {
		const warmup = await Promise.allSettled(Array.from({ length: concurrency * 2 }, (_, i) => withTimeout(runOne(seedBase + 900_000 + i), JOB_TIMEOUT_MS, 'warm-up')));
		const failed = warmup.filter((r) => r.status === 'rejected');
		if (failed.length) process.stderr.write(`${variant.name}: ${failed.length} warm-up jobs failed: ${String((failed[0] as PromiseRejectedResult).reason)}\n`);
	}
	await sim.idle();
	await sim.reset();

	let next = 0;
	let errors = 0;
	const outcomes: Array<JobOutcome & { startedAt: number }> = [];
	const caller = async () => {
		while (next < jobs) {
			const seed = seedBase + next++;
			const startedAt = wallClockMs();
			try {
				outcomes.push({ ...(await withTimeout(runOne(seed), JOB_TIMEOUT_MS, `${variant.name} job ${seed}`)), startedAt });
			} catch (error) {
				errors++;
				process.stderr.write(`${variant.name}: ${error instanceof Error ? error.message : String(error)}\n`);
			}
		}
	};
	const start = wallClockMs();
	await Promise.all(Array.from({ length: concurrency }, caller));
	const elapsedMs = wallClockMs() - start;
	await close();

	const finish = await sim.finishTimes(outcomes.map((o) => o.promptId));
	const busy = outcomes
		.map((o) => finish[o.promptId])
		.filter((f) => f?.startAt !== undefined && f.historyAt !== undefined)
		.map((f) => (f.historyAt as number) - (f.startAt as number));
	return {
		variant: variant.name,
		client: variant.client,
		label: CLIENT_LABELS[variant.client],
		download: variant.download,
		jobs: outcomes.length,
		concurrency,
		elapsedMs: round(elapsedMs, 1),
		jobsPerSecond: round((outcomes.length / elapsedMs) * 1000, 1),
		jobLatency: summarize(outcomes.map((o) => (o.listedAt ?? o.downloadedAt ?? o.startedAt) - o.startedAt)),
		simBusyPerJob: summarize(busy),
		errors,
	};
}

async function main(): Promise<void> {
	const jobs = argNumber('jobs', 1000);
	const mediaJobs = argNumber('media-jobs', 32);
	const concurrency = argNumber('concurrency', 16);
	const layout = (argValue('sim') ?? 'child') as SimLayout;
	const zeroSleep = (argValue('sim-zero') ?? 'immediate') as 'immediate' | 'timer';
	const clients = selectedClients();
	const variants: Variant[] = [];
	for (const client of clients) {
		if (client === 'comfyui-media') variants.push({ name: 'comfyui-media (lists + downloads)', client, download: true });
		else {
			variants.push({ name: `${client} (outputs listed)`, client, download: false });
			variants.push({ name: `${client} (+ download)`, client, download: true });
		}
	}
	const sim = await startSimHost(layout, { nodeTimeMs: 0, cache: false }, { immediateZeroSleep: zeroSleep === 'immediate' });
	const results: ThroughputResult[] = [];
	try {
		for (const [index, variant] of variants.entries()) {
			process.stderr.write(`throughput: ${variant.name}…\n`);
			results.push(await runVariant(variant, sim, variant.client === 'comfyui-media' ? mediaJobs : jobs, concurrency, (index + 1) * 10_000_000));
		}
	} finally {
		await sim.stop();
	}
	const ours = results.find((r) => r.client === 'promptlab' && !r.download);
	const target = { metric: 'promptlab jobs/s, 16 in flight, outputs listed', min: 200, value: ours?.jobsPerSecond ?? null, pass: ours ? ours.jobsPerSecond >= 200 : null };
	const table = markdownTable(
		['client', 'jobs', 'in flight', 'jobs/s', 'job p50 ms', 'job p99 ms', 'sim busy/job p50 ms (cap jobs/s)', 'errors'],
		results.map((r) => [
			r.variant,
			r.jobs,
			r.concurrency,
			r.jobsPerSecond,
			r.jobLatency.p50,
			r.jobLatency.p99,
			`${round(r.simBusyPerJob.p50, 2)} (${Math.round(1000 / r.simBusyPerJob.p50)})`,
			r.errors,
		]),
	);
	const command = `npx ts-node --transpile-only bench/comfyui-throughput.ts --jobs ${jobs} --media-jobs ${mediaJobs} --concurrency ${concurrency} --sim ${layout} --sim-zero ${zeroSleep}`;
	const path = writeResult(`throughput-${layout}${zeroSleep === 'timer' ? '-timer' : ''}`, {
		command,
		settings: { nodeTimeMs: 0, concurrency, workflow: 'txt2img 64×64, 20 steps, 7 nodes, fresh seed per job, cache off', simLayout: layout, simZeroSleep: zeroSleep },
		target,
		results,
		table,
	});
	process.stdout.write(`\nThroughput, zero-length jobs, ${concurrency} in flight, simulator ${layout === 'child' ? 'in a child process' : 'in this process'}, 0 ms waits: ${zeroSleep === 'immediate' ? 'setImmediate' : 'setTimeout(0) ≈ 1 ms'}\n\n${table}\n\n`);
	process.stdout.write(`target: ours ≥ 200 jobs/s → ${target.value}: ${target.pass ? 'PASS' : 'FAIL'}\nwritten ${path}\n`);
}

main().then(
	() => process.exit(0),
	(error: unknown) => {
		process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
		process.exit(1);
	},
);
