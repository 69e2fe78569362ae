/**
 * Builds bench/results/comfyui.md (the snippet pasted into BENCHMARKS.md) from the JSON results
 * of the ComfyUI benchmarks. Run after them: `npx ts-node --transpile-only bench/comfyui-report.ts`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { RESULTS_DIR, type MachineInfo } from './comfyui-common';

interface ResultFile {
	command: string;
	machine: MachineInfo;
	loadAverageAtStart?: number[];
	table: string;
	target?: Record<string, unknown>;
	[key: string]: unknown;
}

function load(name: string): ResultFile | undefined {
	const path = resolve(RESULTS_DIR, `comfyui-${name}.json`);
	return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ResultFile) : undefined;
}

function verdict(pass: unknown): string {
	return pass === true ? '**PASS**' : pass === false ? '**FAIL**' : 'n/a';
}

function section(title: string, result: ResultFile | undefined, body: (r: ResultFile) => string[]): string[] {
	if (!result) return [`### ${title}`, '', '_not run_', ''];
	const load = result.loadAverageAtStart ? ` · load average at start ${result.loadAverageAtStart.join(' / ')}` : '';
	return [
		`### ${title}`,
		'',
		'```bash',
		result.command,
		'```',
		'',
		result.table,
		'',
		...body(result),
		'',
		`<sub>${result.machine.date} · ${result.machine.cpus} × ${result.machine.cpuModel} · Node ${result.machine.node}${load}</sub>`,
		'',
	];
}

function main(): void {
	const latency = load('latency');
	const throughputChild = load('throughput-child');
	const throughputInproc = load('throughput-inproc');
	const pool = load('pool');
	const memory = load('memory');
	const machine = (latency ?? throughputChild ?? pool ?? memory)?.machine;
	const lines: string[] = [
		'## ComfyUI client: promptlab vs @saintno/comfyui-sdk vs n8n-nodes-comfyui-media',
		'',
		'All three clients talk to the same ComfyUI simulator (`dev/comfyui-sim`, the real protocol, no GPU) and run the',
		'same graph: the simulator\'s txt2img workflow at 64×64 (7 nodes, output on node 9), a fresh seed per job, ComfyUI',
		'caching off. Ours is `lib/comfyui` (`ComfyUiClient`, `ComfyServerPool`) with default settings; the SDK is used as',
		'its README shows (`ComfyApi` + `CallWrapper` + `PromptBuilder`, `ComfyPool`, `getImage`); the community node',
		'("ComfyUI Wf to Media", its defaults) runs inside n8n-core\'s `WorkflowExecute` via `test/support/n8n-harness.ts`.',
		machine ? `Machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${machine.platform} ${machine.release}.` : '',
		'',
		'Run everything (≈ 6 min): `bash bench/run-comfyui.sh`. Each script also runs alone (commands below) and writes',
		'`bench/results/comfyui-*.json` with the machine info and every percentile.',
		'',
	];

	lines.push(
		...section('Completion latency overhead (server finished → outputs in hand)', latency, (r) => {
			const t = r.target as { value: number; pass: boolean };
			return [
				`Target: ours p50 ≤ 25 ms → ${t.value} ms ${verdict(t.pass)}.`,
				'',
				'- "Server finished" is the simulator\'s `execution_success` timestamp in the history entry (whole ms, so every',
				'  figure carries up to +1 ms); the history entry is written ~1 ms later ("after history write" column). "Listed" is',
				'  when the client hands over the output list; "downloaded" is when every output (a ~1.3 kB PNG) has been read.',
				'- Jobs run one after another with 2 ms per node; the simulator is in the same process (`--sim inproc`).',
				'- The SDK resolves on the output node\'s `executed` WebSocket event, which comes *before* `execution_success`, so',
				'  its figure can be ≤ 0: it never reads `/history` (ComfyUI\'s record of whether the prompt succeeded).',
				'- n8n-nodes-comfyui-media polls `/history/{id}` after a fixed 10 s sleep (not configurable; its "Timeout" parameter,',
				'  in minutes, sets 60 polls per minute of 10 s each, i.e. 10× the stated time), so it lists outputs ~10 s after',
				'  the server finished (the job itself is ~20 ms); its "listed" is',
				'  the arrival of its `GET /view` at the simulator, as it lists and downloads inside one `execute()`. Only a few',
				'  jobs are run for it (10 s each).',
			];
		}),
	);

	lines.push(
		...section('Throughput, zero-length jobs, 16 in flight (simulator in a child process)', throughputChild, (r) => {
			const t = r.target as { value: number; pass: boolean };
			const ours = (r.results as Array<{ client: string; download: boolean; jobsPerSecond: number; simBusyPerJob: { p50: number } }>).find(
				(x) => x.client === 'promptlab' && !x.download,
			);
			const cap = ours ? Math.round(1000 / ours.simBusyPerJob.p50) : undefined;
			return [
				`Target: ours ≥ 200 jobs/s → ${t.value} jobs/s ${verdict(t.pass)}.`,
				'',
				...(ours && cap && ours.jobsPerSecond >= 0.85 * cap
					? [
							`- Ours runs at the simulator's limit here (its own time per job, ${ours.simBusyPerJob.p50.toFixed(2)} ms, allows ≈ ${cap} jobs/s): the`,
							'  figure is a lower bound of what the client sustains.',
						]
					: []),
				'- Each of 16 callers starts its next job when the previous one has its outputs listed ("+ download": and',
				'  downloaded). nodeTimeMs 0. The simulator runs in its own process (the machine has 2 cores: one for it, one for',
				'  the client), because in-process it takes CPU from the client under test (see the in-process table).',
				'- The simulator, like ComfyUI, runs one prompt at a time, so it caps throughput. Node.js clamps `setTimeout(0)` to',
				'  1 ms, which made a "0 ms" 7-node job cost the simulator ≥ 8 ms and capped it near 100 jobs/s whatever the client',
				'  (ours measured 81 jobs/s that way). The benchmark therefore makes the simulator\'s 0 ms waits yield with',
				'  `setImmediate` (bench-side switch `immediateZeroSleep` in `bench/comfyui-sim-host.ts`; `--sim-zero timer` turns it',
				'  off). The "sim busy/job" column is the simulator\'s own time per job and its inverse the most it can serve.',
				'- @saintno/comfyui-sdk: every in-flight `CallWrapper` answers each broadcast `status` message with its own',
				'  `GET /queue` (the whole queue, graphs included), so 16 in flight mean 16 queue reads per queue change; these',
				'  load the server (see its sim busy/job). Also, when a prompt\'s first WebSocket events arrive before the answer to',
				'  its POST (common at 16 in flight), `CallWrapper.run()` never settles although `onFinished` fires (its success',
				'  path never resolves the promise `run()` waits on): in a first run that awaited `run()`, 15 of 300 jobs',
				'  (32 of 300 with downloads) hung until a 30 s timeout. The benchmark now takes whichever comes first of',
				'  `onFinished` and `run()` (the README uses `onFinished`), so the SDK is not charged for that hang.',
				'- n8n-nodes-comfyui-media: each job waits ≥ 10 s (fixed poll), so 16 in flight give ≈ 1.6 jobs/s.',
			];
		}),
	);
	if (throughputInproc) {
		lines.push(
			...section('Throughput, same run with the simulator in the client\'s process', throughputInproc, () => [
				'Same settings; the simulator shares the process and the event loop with the client, so the numbers are',
				'lower than with the child-process layout. The SDK suffers most: the simulator serves its per-status `GET /queue`',
				'storm on the same event loop that runs the prompts (see its sim busy/job).',
			]),
		);
	}

	lines.push(
		...section('Pool of 4 servers (1×, 1×, 2×, 4× slower), 200 jobs', pool, (r) => {
			const settings = r.settings as { idealMs: number; configuredJobMs: number[]; idealFormula: string };
			const target = r.target as { promptlab: Array<{ pattern: string; ratio: number; pass: boolean }> };
			return [
				`Per-node time 10/10/20/40 ms × 7 nodes = ${settings.configuredJobMs.join('/')} ms per job; ideal = total work / total`,
				`capacity = ${settings.idealFormula} = **${settings.idealMs} ms**. Target: makespan ≤ 1.15 × ideal.`,
				'',
				...target.promptlab.map((p) => `- ours, ${p.pattern}: ${p.ratio.toFixed(3)} × ideal ${verdict(p.pass)}`),
				'',
				'- "burst": all 200 jobs handed to the pool at once (an n8n node with 200 items starting them together);',
				'  "N callers": closed loop, each caller starts its next job when its previous one is done.',
				'- "ratio vs measured capacity" divides by the ideal computed from each server\'s *measured* time per job in that',
				'  run (execution_start → history write): every Node.js timer fires a little late, so the simulated servers are',
				'  ~7 % slower than configured, which is not the client\'s doing. KSampler runs 2 steps here (`--steps 2`) because the',
				'  simulator sleeps once per step and each sleep adds that lateness.',
				'- Ours: `run()` jobs wait in the pool (one FIFO per process) and a server holds at most 2 of them (max of its',
				'  reported queue and our jobs there). Each free slot goes by expected finish time, (jobs there + 1) × the',
				'  server\'s learned mean job time, planned over the whole backlog; details in `lib/comfyui/scheduler.ts`.',
				'- @saintno/comfyui-sdk has a pool (`ComfyPool`, default mode PICK_ZERO: a job goes only to a server whose queue is',
				'  empty, jobs wait in the client). It never overloads a slow server, but each server idles between jobs while',
				'  its wait loop backs off (20, 30, 40 … ms, up to 1 s, while every server is busy), hence ~1.35 × ideal.',
				'- n8n-nodes-comfyui-media has one API URL per credential and no pool: not measured.',
			];
		}),
	);

	lines.push(
		...section('Peak RSS growth while receiving a 200 MB output', memory, (r) => {
			const t = r.target as { value: number; pass: boolean };
			return [
				`Target: ours ≤ 64 MB → ${t.value} MB ${verdict(t.pass)}.`,
				'',
				'- Each client runs in a fresh child process (baseline includes ts-node and the TypeScript compiler, hence',
				'  ~200–280 MB); the simulator runs in another process and generates the file lazily. After warm-up (small jobs and',
				'  one 1 MB video through the same path) and GC, the kernel\'s peak-RSS mark is reset and a worker thread samples',
				'  RSS every 10 ms while the client runs the SaveVideo job and sends the file to a SHA-256 sink. Growth = max(peak',
				'  sampled, VmHWM) − baseline; the whole job (submit, wait, download) is inside the window.',
				'- Both n8n rows use n8n 2.x\'s default binary data mode "filesystem" (registered by the bench, as n8n\'s start-up',
				'  does; the bare test harness would otherwise keep binary data base64 in memory).',
				'- The SDK\'s only download call, `getImage()`, returns a `Blob` (the whole file in memory, plus fetch\'s copies).',
				'  The community node downloads with `this.helpers.request({ encoding: null })` into one Buffer before',
				'  `prepareBinaryData`.',
			];
		}),
	);

	lines.push(
		'### Fairness notes',
		'',
		'- One simulator, not ComfyUI: no GPU time, so these numbers isolate client and protocol overhead. The simulator is',
		'  TypeScript and costs CPU; on this 2-core machine it runs in the client\'s process (latency) or in a child process',
		'  (throughput, pool, memory), as stated per table. Other work on the machine skews timings; the JSON files record the',
		'  load average at start and end.',
		'- Peers run with their documented defaults; nothing was tuned for them, and the community node\'s console logging',
		'  (it prints every output structure) is silenced during the runs.',
		'- The n8n community node is measured inside n8n-core\'s `WorkflowExecute`, which adds n8n\'s own per-execution cost;',
		'  ours and the SDK are measured as libraries (the memory table has our n8n node too).',
		`- Percentiles are nearest-rank over ${latency ? (latency.results as Array<{ jobs: number }>)[0]?.jobs ?? '?' : '?'} jobs; p99 of 200 is the 2nd-worst job.`,
		'',
	);

	const path = resolve(RESULTS_DIR, 'comfyui.md');
	writeFileSync(path, `${lines.join('\n')}\n`);
	process.stdout.write(`written ${path}\n`);
}

main();
