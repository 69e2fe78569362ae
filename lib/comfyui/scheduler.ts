import type { ServerConnection } from './connection';
import type { ComfyEvent, PromptSubscriber } from './events';

/**
 * When and where the pool's jobs go.
 *
 * ComfyUI runs one prompt at a time per server, and the servers of one pool differ in speed.
 * Placing every job at submit time on the shortest queue commits a burst evenly before anyone
 * knows which server is slow, and a job queued on a server cannot move. So run() jobs wait here,
 * a server holds at most a few of them (one running, one queued so it never idles), and each
 * freed slot goes to the job that is expected to finish first there (planDispatch). Speeds are
 * learned per server from finished jobs.
 */

export interface ServerLoad {
	/** queue_remaining as the server reports it: running + pending, every client's jobs. */
	reported: number;
	/** Jobs this process has placed there and not seen finish. */
	ours: number;
	/** Learned time per job; undefined until one finished there. */
	meanMs?: number;
	/** false while the pool skips the server (unreachable lately). */
	up: boolean;
}

export interface PlanJob<S> {
	/** Where this job may go (its pool's servers minus those that already refused it). */
	servers: readonly S[];
	/** A server takes more of this job's kind only below this load (Infinity: never wait). */
	slotsPerServer: number;
}

export interface PlanOptions {
	/**
	 * How far apart jobs have been arriving lately: max(now − newest arrival, newest − the one
	 * before). While it is shorter than an idle server's job time, jobs keep coming faster than
	 * that server would run one, and it takes a job rather than leave it queueing elsewhere.
	 * Infinity (default): nothing arriving, the plan alone decides.
	 */
	arrivalGapMs?: number;
	/** Where ties start (round robin between equal servers). */
	rotation?: number;
}

/**
 * While jobs keep coming, an idle server takes one only if it would finish it within this
 * multiple of the time the work already known (queued, running, waiting) needs to drain: if the
 * stream stops right then, that job ends the batch at most half as late again. Tuned on a model of
 * the pool (burst, 2–32 callers; 2–6 servers, up to 10× apart).
 */
const IDLE_SERVER_DRAIN_FACTOR = 1.5;

interface PlannedServer {
	load: ServerLoad;
	/** Jobs the plan has put on it so far, on top of its load. */
	planned: number;
	ours: number;
	/** Nothing running or queued there, and the plan gave it nothing. */
	idle: boolean;
}

/**
 * Where the waiting jobs go now. Returns the grants: (index into `jobs`, server). Pure; the
 * caller applies them.
 *
 * 1. Expected finish time, planned over the whole backlog: the waiting jobs in FIFO order, each
 *    onto the server where it would finish first, (jobs there + 1) × mean job time, counting the
 *    jobs planned before it. Planning the backlog rather than the oldest job alone is what gives
 *    a slow server work while the queue is long (the oldest job finishes sooner on a busy fast
 *    server, the tenth does not) and none at the end of a batch, when a faster server frees up
 *    sooner. A job planned on a server with a free slot goes now (the oldest waiting job that may
 *    go there takes the slot); one planned on a busy server keeps waiting. A server's load is
 *    max(reported queue, our jobs there).
 * 2. While jobs keep arriving (closed loops: each caller starts its next job when one ends), an
 *    idle server takes a job that would otherwise queue behind another or wait: the jobs to come
 *    need that capacity, and leaving it idle only because each single job finishes sooner on a
 *    faster server lowers the throughput of every job after it.
 */
export function planDispatch<S>(
	jobs: ReadonlyArray<PlanJob<S>>,
	loadOf: (server: S) => ServerLoad,
	options: PlanOptions = {},
): Array<{ job: number; server: S }> {
	const servers = new Map<S, PlannedServer>();
	for (const job of jobs) {
		for (const server of job.servers) {
			if (servers.has(server)) continue;
			const load = loadOf(server);
			servers.set(server, {
				load,
				planned: Math.max(load.reported, load.ours),
				ours: load.ours,
				idle: load.reported === 0 && load.ours === 0,
			});
		}
	}
	// Unknown speed: assume as fast as the fastest known, so a new server is tried and learned.
	const known = [...servers.values()].map((s) => s.load.meanMs).filter((m): m is number => m !== undefined && m > 0);
	const fallbackMs = known.length > 0 ? Math.min(...known) : 1;
	const meanOf = (s: PlannedServer) => (s.load.meanMs !== undefined && s.load.meanMs > 0 ? s.load.meanMs : fallbackMs);
	const rotation = options.rotation ?? 0;
	const usable = (job: PlanJob<S>): readonly S[] => {
		const up = job.servers.filter((s) => servers.get(s)?.load.up);
		// All marked down: plan on them anyway; the submit finds out and moves on.
		return up.length > 0 ? up : job.servers;
	};

	const cheapest = (job: PlanJob<S>): S | undefined => {
		const eligible = usable(job);
		let best: S | undefined;
		let bestFinish = Infinity;
		let bestOurs = Infinity;
		for (let i = 0; i < eligible.length; i++) {
			const server = eligible[(rotation + i) % eligible.length];
			const state = servers.get(server) as PlannedServer;
			const finish = (state.planned + 1) * meanOf(state);
			if (finish < bestFinish || (finish === bestFinish && state.ours < bestOurs)) {
				best = server;
				bestFinish = finish;
				bestOurs = state.ours;
			}
		}
		return best;
	};
	// Never stuck: with none of our jobs on it a server always takes one (ComfyUI's queue is FIFO,
	// so waiting behind another client's long queue only gets later); otherwise only below the cap.
	const hasSlot = (state: PlannedServer, slots: number) => state.ours === 0 || Math.max(state.load.reported, state.ours) < slots;

	const grants: Array<{ job: number; server: S; queued: boolean }> = [];
	if (jobs.length === 0) return grants;
	const anySlot = jobs.some((job) => job.servers.some((s) => hasSlot(servers.get(s) as PlannedServer, job.slotsPerServer)));
	if (!anySlot) return grants;

	// 1. The plan over the waiting jobs.
	/** Waiting jobs the plan put on a busy server, oldest first. */
	const deferred: number[] = [];
	for (let k = 0; k < jobs.length; k++) {
		const server = cheapest(jobs[k]);
		if (server === undefined) continue;
		const state = servers.get(server) as PlannedServer;
		state.planned++;
		if (!hasSlot(state, jobs[k].slotsPerServer)) {
			deferred.push(k);
			continue;
		}
		const at = deferred.findIndex((d) => jobs[d].servers.includes(server) && hasSlot(state, jobs[d].slotsPerServer));
		let taker = k;
		if (at >= 0) {
			taker = deferred[at];
			deferred.splice(at, 1);
			// This job takes the older one's place in the plan, on the busy server.
			deferred.push(k);
		}
		grants.push({ job: taker, server, queued: !state.idle });
		state.idle = false;
		state.ours++;
	}

	// 2. Jobs still coming: idle servers, fastest first, take the oldest job that would wait or queue.
	const gap = options.arrivalGapMs ?? Infinity;
	const drainMs = Math.max(...[...servers.values()].map((state) => state.planned * meanOf(state)));
	const idle = [...servers.entries()]
		.filter(([, state]) => state.idle && state.load.up && gap < meanOf(state) && meanOf(state) <= IDLE_SERVER_DRAIN_FACTOR * drainMs)
		.sort((a, b) => meanOf(a[1]) - meanOf(b[1]));
	for (const [server, state] of idle) {
		const fits = (k: number) => usable(jobs[k]).includes(server);
		const waiting = deferred.findIndex(fits);
		if (waiting >= 0) {
			grants.push({ job: deferred[waiting], server, queued: false });
			deferred.splice(waiting, 1);
		} else {
			const queued = grants.find((g) => g.queued && fits(g.job));
			if (!queued) continue;
			(servers.get(queued.server) as PlannedServer).ours--;
			queued.server = server;
			queued.queued = false;
		}
		state.idle = false;
		state.ours++;
	}
	return grants.map(({ job, server }) => ({ job, server }));
}

/** Weight of the newest job in a server's mean once it has a few (earlier: plain mean). */
const MEAN_WEIGHT = 0.2;

interface JobTime {
	meanMs: number;
	samples: number;
}

/** Per-process cache of each server's time per job; losing it only means learning again. */
const jobTimes = new WeakMap<ServerConnection, JobTime>();

/** Learns from one job that ran on the server (execution_start → execution_success). */
export function recordJobTime(connection: ServerConnection, durationMs: number): void {
	if (!Number.isFinite(durationMs) || durationMs < 0) return;
	const current = jobTimes.get(connection);
	if (!current) {
		jobTimes.set(connection, { meanMs: durationMs, samples: 1 });
		return;
	}
	current.samples++;
	const weight = Math.max(MEAN_WEIGHT, 1 / current.samples);
	current.meanMs += (durationMs - current.meanMs) * weight;
}

export function meanJobTime(connection: ServerConnection): number | undefined {
	return jobTimes.get(connection)?.meanMs;
}

/** How long a queue length read by a probe stands in for a server whose WebSocket is not open. */
const PROBED_QUEUE_VALID_MS = 2_000;
const probedQueues = new WeakMap<ServerConnection, { remaining: number; at: number }>();

export function recordProbedQueue(connection: ServerConnection, remaining: number): void {
	probedQueues.set(connection, { remaining, at: Date.now() });
}

/** queue_remaining: live from the WebSocket's status messages while it is open, else a recent probe, else 0. */
function reportedQueue(connection: ServerConnection): number {
	const events = connection.events;
	if (events.isOpen && events.queueRemaining !== undefined) return events.queueRemaining;
	const probed = probedQueues.get(connection);
	return probed && Date.now() - probed.at < PROBED_QUEUE_VALID_MS ? probed.remaining : 0;
}

export function serverLoad(connection: ServerConnection): ServerLoad {
	return {
		reported: reportedQueue(connection),
		ours: connection.activeJobs,
		meanMs: meanJobTime(connection),
		up: connection.downUntil <= Date.now(),
	};
}

/**
 * Learns the time of a job submitted without a wait in the pool (submit()): from its
 * execution_start and execution_success events. Gives up on a dropped socket or after `maxMs`.
 * A prompt that ran no node (all cached) teaches nothing.
 */
export function observeJobTime(connection: ServerConnection, promptId: string, maxMs: number): () => void {
	let startedAt: number | undefined;
	let ranNode = false;
	let unsubscribe: (() => void) | undefined;
	const timer = setTimeout(() => stop(), maxMs);
	timer.unref();
	const stop = () => {
		clearTimeout(timer);
		unsubscribe?.();
		unsubscribe = undefined;
	};
	const stamp = (event: ComfyEvent) => (typeof event.data.timestamp === 'number' ? event.data.timestamp : undefined);
	const observer: PromptSubscriber = {
		onEvent(event) {
			switch (event.type) {
				case 'execution_start':
					startedAt = stamp(event);
					break;
				case 'executing':
					if (event.data.node !== null && event.data.node !== undefined) ranNode = true;
					break;
				case 'execution_success': {
					const finishedAt = stamp(event);
					if (ranNode && startedAt !== undefined && finishedAt !== undefined) recordJobTime(connection, finishedAt - startedAt);
					stop();
					break;
				}
				case 'execution_error':
				case 'execution_interrupted':
					stop();
					break;
				default:
					break;
			}
		},
		onDisconnect: stop,
	};
	unsubscribe = connection.events.subscribe(promptId, observer);
	return stop;
}

/** A run() job waiting for a server. */
interface HeldJob {
	seq: number;
	servers: readonly ServerConnection[];
	slotsPerServer: number;
	grant(connection: ServerConnection): void;
}

export interface SlotHandle {
	/** Takes the job out of the wait; false when it already got a server (the caller then owns that slot). */
	withdraw(): boolean;
}

/** While jobs wait, re-plan at least this often: load changes nobody tells us about (other processes). */
const REPLAN_INTERVAL_MS = 250;

/**
 * The waiting room of every pool in this process: pools built from the same credentials (one per
 * n8n execution) share servers, so they share one FIFO and one count of jobs per server
 * (ServerConnection.activeJobs). In-process state like the connections themselves: jobs waiting
 * here belong to calls of this process and end with it.
 */
class SlotScheduler {
	private held: HeldJob[] = [];
	private seq = 0;
	private rotation = 0;
	private lastArrival?: number;
	private previousArrival?: number;
	private timer?: NodeJS.Timeout;

	/** Jobs waiting for a server (diagnostics, tests). */
	get waiting(): number {
		return this.held.length;
	}

	/**
	 * Queues a job; `onGrant` is called (synchronously, from a later plan or this one) with its
	 * server, whose activeJobs already counts it. `seq` keeps a retried job's place in the FIFO.
	 */
	hold(
		servers: readonly ServerConnection[],
		slotsPerServer: number,
		onGrant: (connection: ServerConnection) => void,
		seq?: number,
	): { handle: SlotHandle; seq: number } {
		const job: HeldJob = { seq: seq ?? this.seq++, servers, slotsPerServer, grant: onGrant };
		if (seq === undefined) this.noteArrival();
		let at = this.held.length;
		while (at > 0 && this.held[at - 1].seq > job.seq) at--;
		this.held.splice(at, 0, job);
		const handle: SlotHandle = {
			withdraw: () => {
				const index = this.held.indexOf(job);
				if (index < 0) return false;
				this.held.splice(index, 1);
				this.updateTimer();
				return true;
			},
		};
		this.dispatch();
		return { handle, seq: job.seq };
	}

	/** A job of ours left `connection` (finished, failed, or handed to the server's own queue). */
	release(connection: ServerConnection): void {
		connection.activeJobs = Math.max(0, connection.activeJobs - 1);
		this.dispatch();
	}

	/** Plans and hands out free slots. */
	dispatch(): void {
		if (this.held.length > 0) {
			const snapshot = this.held.slice();
			const grants = planDispatch(snapshot, serverLoad, { arrivalGapMs: this.arrivalGapMs(), rotation: this.rotation++ });
			for (const { job, server } of grants) {
				const held = snapshot[job];
				this.held.splice(this.held.indexOf(held), 1);
				server.activeJobs++;
				held.grant(server);
			}
		}
		this.updateTimer();
	}

	private noteArrival(): void {
		this.previousArrival = this.lastArrival;
		this.lastArrival = Date.now();
	}

	private arrivalGapMs(): number {
		if (this.lastArrival === undefined || this.previousArrival === undefined) return Infinity;
		return Math.max(Date.now() - this.lastArrival, this.lastArrival - this.previousArrival);
	}

	private updateTimer(): void {
		if (this.held.length > 0 && !this.timer) {
			this.timer = setInterval(() => this.dispatch(), REPLAN_INTERVAL_MS);
			this.timer.unref();
		} else if (this.held.length === 0 && this.timer) {
			clearInterval(this.timer);
			this.timer = undefined;
		}
	}
}

let scheduler: SlotScheduler | undefined;

/** The process's scheduler (created on first use). */
export function slotScheduler(): SlotScheduler {
	scheduler ??= new SlotScheduler();
	return scheduler;
}
