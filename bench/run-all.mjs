#!/usr/bin/env node
/**
 * `npm run bench`: runs the benchmarks of bench/ one after another, each with the command
 * BENCHMARKS.md prints above its table, and stops at the first that fails.
 *
 *   npm run bench -- --list                 # names, rough durations and commands; runs nothing
 *   npm run bench                           # everything (≈ 30 min on a 2-core machine)
 *   npm run bench -- comfyui                # every benchmark whose name contains "comfyui"
 *   npm run bench -- feedback-writes scale  # several filters: a name matching any of them runs
 *   npm run bench -- scale -- --reuse       # arguments after `--` go to every selected script, ahead of
 *   npm run bench -- comfyui-pool -- --repeat 1   # its defaults: the scripts read the first occurrence
 *   npm run bench -- --dry-run comfyui      # print the commands only
 *
 * Each script writes bench/results/*.json (tracked: they are the numbers BENCHMARKS.md quotes).
 * Postgres benchmarks use DATABASE_URL, else an embedded server. Run on an otherwise idle machine.
 * The ComfyUI steps are the ones of bench/run-comfyui.sh, in its order (comfyui-report last, as it
 * reads the others' results); keep both lists in step.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TS_NODE = join(REPO_ROOT, 'node_modules', '.bin', 'ts-node');

/** In run order. `about` is a rough wall time on the project's 2-core machine (see BENCHMARKS.md). */
const BENCHMARKS = [
	{ name: 'comfyui-latency', about: '1 min', script: 'bench/comfyui-latency.ts', args: ['--jobs', '200', '--media-jobs', '5', '--sim', 'inproc'] },
	{ name: 'comfyui-throughput-child', about: '1 min', script: 'bench/comfyui-throughput.ts', args: ['--jobs', '1000', '--media-jobs', '32', '--concurrency', '16', '--sim', 'child'] },
	{ name: 'comfyui-throughput-inproc', about: '1 min', script: 'bench/comfyui-throughput.ts', args: ['--jobs', '1000', '--concurrency', '16', '--sim', 'inproc', '--clients', 'promptlab,comfyui-sdk'] },
	{ name: 'comfyui-pool', about: '2 min', script: 'bench/comfyui-pool.ts', args: ['--jobs', '200', '--callers', '8,16', '--steps', '2', '--repeat', '3', '--sim', 'child'] },
	{ name: 'comfyui-memory', about: '1 min', script: 'bench/comfyui-memory.ts', args: ['--mb', '200'] },
	{ name: 'comfyui-report', about: 'seconds', script: 'bench/comfyui-report.ts', args: [] },
	{ name: 'feedback-writes', about: '1 min', script: 'bench/feedback-writes.ts', args: [] },
	{ name: 'feedback-writes-async-commit', about: '1 min', script: 'bench/feedback-writes.ts', args: ['--async-commit'] },
	{ name: 'recommend-eval', about: '12 min', script: 'bench/recommend-eval.ts', args: [] },
	{ name: 'scale', about: '6 min (SCALE=0.1 for a quick run)', script: 'bench/scale.ts', args: [] },
];

function usage() {
	return 'usage: node bench/run-all.mjs [--list] [--dry-run] [name-filter ...] [-- script args]';
}

function parseArgs(argv) {
	const separator = argv.indexOf('--');
	const own = separator >= 0 ? argv.slice(0, separator) : argv;
	const passThrough = separator >= 0 ? argv.slice(separator + 1) : [];
	const options = { list: false, dryRun: false, filters: [], passThrough };
	for (const arg of own) {
		if (arg === '--list') options.list = true;
		else if (arg === '--dry-run') options.dryRun = true;
		else if (arg === '--help' || arg === '-h') {
			console.log(usage());
			process.exit(0);
		} else if (arg.startsWith('-')) {
			console.error(`unknown option ${arg}\n${usage()}`);
			process.exit(2);
		} else options.filters.push(arg);
	}
	return options;
}

/** The user's arguments come first: every script reads the first occurrence of an option, so they override the defaults. */
const scriptArgs = (bench, extra) => [bench.script, ...extra, ...bench.args];
const commandLine = (bench, extra) => ['npx ts-node --transpile-only', ...scriptArgs(bench, extra)].join(' ');

const options = parseArgs(process.argv.slice(2));
const selected = options.filters.length
	? BENCHMARKS.filter((bench) => options.filters.some((filter) => bench.name.includes(filter)))
	: BENCHMARKS;
if (selected.length === 0) {
	console.error(`no benchmark name contains ${options.filters.map((f) => `"${f}"`).join(' or ')}; names: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
	process.exit(2);
}

if (options.list) {
	const width = Math.max(...selected.map((bench) => bench.name.length));
	for (const bench of selected) console.log(`${bench.name.padEnd(width)}  ~${bench.about}\n${' '.repeat(width)}  $ ${commandLine(bench, options.passThrough)}`);
	process.exit(0);
}

if (!options.dryRun && !existsSync(TS_NODE)) {
	console.error(`${TS_NODE} is missing: run npm install first`);
	process.exit(1);
}

const started = Date.now();
for (const bench of selected) {
	console.log(`\n== ${bench.name}\n$ ${commandLine(bench, options.passThrough)}`);
	if (options.dryRun) continue;
	const result = spawnSync(TS_NODE, ['--transpile-only', ...scriptArgs(bench, options.passThrough)], {
		cwd: REPO_ROOT,
		stdio: 'inherit',
	});
	if (result.error) {
		console.error(`${bench.name}: could not start (${result.error.message})`);
		process.exit(1);
	}
	if (result.status !== 0) {
		console.error(`${bench.name} failed (${result.signal ? `signal ${result.signal}` : `exit code ${result.status}`}); later benchmarks not run`);
		process.exit(result.status ?? 1);
	}
}
if (!options.dryRun) console.log(`\n${selected.length} benchmark(s) done in ${Math.round((Date.now() - started) / 1000)} s; results in bench/results/`);
