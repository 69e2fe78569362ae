/**
 * The ComfyUI simulator for the benchmarks, either inside the benchmark process or in a child
 * process of its own (so its CPU and memory do not count against the client under test).
 *
 * Run directly (`ts-node --transpile-only bench/comfyui-sim-host.ts`) it is the child: it starts
 * one simulator, reports its URL over IPC and answers control messages.
 *
 * Finish times: the simulator stamps execution_success with Date.now() (whole ms) in the history
 * entry, and writes the history entry right after. The host also records the moment of that write
 * (sub-ms wall clock) by wrapping the simulator's task_done step; it only observes, it changes nothing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

import { startComfySim, type ComfySim, type ComfySimFaults, type ComfySimOptions } from '../dev/comfyui-sim';

/** Server-side finish of one prompt (epoch ms). */
export interface ServerFinish {
	/** execution_success `timestamp` from the history entry (Date.now(), whole ms). */
	successAt?: number;
	/** execution_start `timestamp` (whole ms). */
	startAt?: number;
	/** When the history entry was written (sub-ms). Missing if the wrapper could not be installed. */
	historyAt?: number;
}

export type SimLayout = 'inproc' | 'child';

export interface SimHost {
	readonly url: string;
	readonly layout: SimLayout;
	/** Child pid, or this process's pid for 'inproc'. */
	readonly pid: number;
	setNodeTimeMs(ms: number): Promise<void>;
	setNodeTime(classTypeOrNodeId: string, ms: number): Promise<void>;
	setFaults(faults: ComfySimFaults): Promise<void>;
	finishTimes(promptIds: string[]): Promise<Record<string, ServerFinish>>;
	/** Arrival time (sim's Date.now()) of the first request whose URL contains `needle`, per needle. */
	requestTimes(needles: string[]): Promise<Record<string, number | undefined>>;
	/** Forget collected timestamps/history (between runs of different clients). */
	reset(): Promise<void>;
	idle(): Promise<void>;
	stop(): Promise<void>;
}

/** Epoch ms with sub-ms resolution, comparable across processes of this machine. */
export function wallClockMs(): number {
	return performance.timeOrigin + performance.now();
}

type HistoryStatusMessage = [string, Record<string, unknown>];

/** Bench-side switches on top of the simulator's own options. */
export interface SimHostOptions {
	/**
	 * Node.js clamps setTimeout(0) to 1 ms, so a "0 ms" node still costs the simulator ≥ 1 ms and a
	 * 7-node job ≥ 8 ms: one simulator then caps near 100 jobs/s whatever the client. With this
	 * switch a 0 ms wait of the simulator yields with setImmediate instead (other waits unchanged).
	 */
	immediateZeroSleep?: boolean;
}

class SimController {
	private readonly historyAt = new Map<string, number>();

	constructor(
		readonly sim: ComfySim,
		hostOptions: SimHostOptions = {},
	) {
		if (hostOptions.immediateZeroSleep) {
			const internals = sim as unknown as { sleep?: (ms: number, generation: number) => Promise<void>; generation?: number };
			const sleep = internals.sleep;
			if (typeof sleep !== 'function') throw new Error('the simulator has no sleep() to patch: drop immediateZeroSleep');
			internals.sleep = function immediateSleep(this: { generation?: number }, ms: number, generation: number) {
				if (ms !== 0) return sleep.call(this, ms, generation);
				// A restart in between bumps the generation: let the original reject as it would.
				return new Promise<void>((done) => setImmediate(done)).then(() => (this.generation === generation ? undefined : sleep.call(this, 0, generation)));
			};
		}
		const target = sim as unknown as { taskDone?: (item: { promptId: string }, result: unknown) => void };
		const original = target.taskDone;
		if (typeof original === 'function') {
			const historyAt = this.historyAt;
			target.taskDone = function taskDone(this: unknown, item: { promptId: string }, result: unknown) {
				original.call(this, item, result);
				historyAt.set(item.promptId, wallClockMs());
			};
		}
	}

	finishTimes(promptIds: string[]): Record<string, ServerFinish> {
		const history = this.sim.history();
		const out: Record<string, ServerFinish> = {};
		for (const id of promptIds) {
			const entry = history[id];
			const messages = (entry?.status?.messages ?? []) as HistoryStatusMessage[];
			const stamp = (type: string) => {
				const found = messages.find((m) => m[0] === type)?.[1]?.timestamp;
				return typeof found === 'number' ? found : undefined;
			};
			out[id] = { successAt: stamp('execution_success'), startAt: stamp('execution_start'), historyAt: this.historyAt.get(id) };
		}
		return out;
	}

	requestTimes(needles: string[]): Record<string, number | undefined> {
		const out: Record<string, number | undefined> = {};
		for (const needle of needles) out[needle] = this.sim.requests.find((r) => r.url.includes(needle))?.at;
		return out;
	}

	/** The simulator keeps every request and frame it ever sent: clear them so long runs stay cheap. */
	reset(): void {
		this.historyAt.clear();
		const lists = this.sim as unknown as Record<string, unknown>;
		for (const key of ['requests', 'sentFrames', 'submitted', 'submissions']) {
			const list = lists[key];
			if (Array.isArray(list)) list.length = 0;
		}
	}
}

async function startInProcess(options: ComfySimOptions, hostOptions: SimHostOptions): Promise<SimHost> {
	const sim = await startComfySim(options);
	const control = new SimController(sim, hostOptions);
	return {
		url: sim.url,
		layout: 'inproc',
		pid: process.pid,
		async setNodeTimeMs(ms) {
			sim.options.nodeTimeMs = ms;
		},
		async setNodeTime(key, ms) {
			sim.setNodeTime(key, ms);
		},
		async setFaults(faults) {
			sim.faults = { ...faults };
		},
		async finishTimes(ids) {
			return control.finishTimes(ids);
		},
		async requestTimes(needles) {
			return control.requestTimes(needles);
		},
		async reset() {
			control.reset();
		},
		idle: () => sim.idle(),
		stop: () => sim.stop(),
	};
}

interface ChildRequest {
	id: number;
	cmd: 'setNodeTimeMs' | 'setNodeTime' | 'setFaults' | 'finishTimes' | 'requestTimes' | 'reset' | 'idle' | 'stop';
	args: unknown[];
}

interface ChildReply {
	id: number;
	result?: unknown;
	error?: string;
}

/** Forks a TypeScript file of this folder under ts-node (transpile only). */
export function forkTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
	return fork(resolve(__dirname, file), args, {
		execArgv: ['-r', 'ts-node/register/transpile-only', '--expose-gc'],
		env: { ...process.env, ...env },
		stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
	});
}

async function startChild(options: ComfySimOptions, hostOptions: SimHostOptions): Promise<SimHost> {
	const child = forkTs('comfyui-sim-host.ts', ['--child', JSON.stringify({ options, hostOptions })]);
	const url = await new Promise<string>((resolveUrl, reject) => {
		const onMessage = (message: { ready?: string; error?: string }) => {
			if (message.ready) resolveUrl(message.ready);
			else if (message.error) reject(new Error(message.error));
		};
		child.once('message', onMessage);
		child.once('exit', (code) => reject(new Error(`simulator child exited early (${code})`)));
	});
	let nextId = 0;
	const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
	child.on('message', (reply: ChildReply) => {
		const pending = waiting.get(reply.id);
		if (!pending) return;
		waiting.delete(reply.id);
		if (reply.error) pending.reject(new Error(reply.error));
		else pending.resolve(reply.result);
	});
	const call = <T>(cmd: ChildRequest['cmd'], ...args: unknown[]): Promise<T> =>
		new Promise<T>((resolveCall, reject) => {
			const id = nextId++;
			waiting.set(id, { resolve: resolveCall as (v: unknown) => void, reject });
			child.send({ id, cmd, args } satisfies ChildRequest);
		});
	return {
		url,
		layout: 'child',
		pid: child.pid ?? -1,
		setNodeTimeMs: (ms) => call('setNodeTimeMs', ms),
		setNodeTime: (key, ms) => call('setNodeTime', key, ms),
		setFaults: (faults) => call('setFaults', faults),
		finishTimes: (ids) => call('finishTimes', ids),
		requestTimes: (needles) => call('requestTimes', needles),
		reset: () => call('reset'),
		idle: () => call('idle'),
		async stop() {
			await call('stop').catch(() => undefined);
			await new Promise<void>((done) => {
				if (child.exitCode !== null) done();
				else child.once('exit', () => done());
			});
		},
	};
}

export function startSimHost(layout: SimLayout, options: ComfySimOptions, hostOptions: SimHostOptions = {}): Promise<SimHost> {
	return layout === 'inproc' ? startInProcess(options, hostOptions) : startChild(options, hostOptions);
}

async function childMain(): Promise<void> {
	const { options, hostOptions } = JSON.parse(process.argv[3] ?? '{}') as { options: ComfySimOptions; hostOptions: SimHostOptions };
	const sim = await startComfySim(options);
	const control = new SimController(sim, hostOptions);
	const send = (message: unknown) => process.send?.(message);
	process.on('message', async (request: ChildRequest) => {
		try {
			let result: unknown;
			switch (request.cmd) {
				case 'setNodeTimeMs':
					sim.options.nodeTimeMs = request.args[0] as number;
					break;
				case 'setNodeTime':
					sim.setNodeTime(request.args[0] as string, request.args[1] as number);
					break;
				case 'setFaults':
					sim.faults = { ...(request.args[0] as ComfySimFaults) };
					break;
				case 'finishTimes':
					result = control.finishTimes(request.args[0] as string[]);
					break;
				case 'requestTimes':
					result = control.requestTimes(request.args[0] as string[]);
					break;
				case 'reset':
					control.reset();
					break;
				case 'idle':
					await sim.idle();
					break;
				case 'stop':
					await sim.stop();
					send({ id: request.id });
					process.exit(0);
			}
			send({ id: request.id, result } satisfies ChildReply);
		} catch (error) {
			send({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies ChildReply);
		}
	});
	process.on('disconnect', () => process.exit(0));
	send({ ready: sim.url });
}

if (require.main === module && process.argv[2] === '--child') {
	childMain().catch((error: unknown) => {
		process.send?.({ error: error instanceof Error ? error.stack : String(error) });
		process.exit(1);
	});
}
