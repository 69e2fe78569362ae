import type { ServerConnection } from './connection';
import type { ComfyEvent, PromptSubscriber } from './events';

/**
 * When and where the pool's jobs go.
 *
 * ComfyUI runs one prompt at a time per server, and servers of one pool differ in speed. Placing
 * every job at submit time on the shortest queue commits a burst evenly before anyone knows which
 * server is slow, and a job queued on a server cannot move. So run() jobs wait here instead, and
 * each server gets at most a few of them (one running, one queued so it never idles). A server gets
 * a job only when it is where the job is expected to finish first, and the slowest server is left
 * out at the end of a batch, when a faster one frees up sooner.
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
	 * Jobs expected to arrive while the slowest server runs one: planned after the waiting jobs so
	 * a steady stream keeps every server busy, while the end of a batch (nothing arriving) keeps
	 * its last jobs off a slow server.
	 */
	expectedArrivals?: number;
	/** Where ties start (round robin between equal servers). */
	rotation?: number;
}

interface PlannedServer {
	load: ServerLoad;
	/** Jobs the plan has put on it so far, on top of its load. */
	planned: number;
	ours: number;
}

/**
 * Expected finish time, planned over the whole backlog: the waiting jobs in FIFO order, then the
 * arrivals expected soon, each onto the server where it would finish first, (jobs there + 1) ×
 * mean job time, counting the jobs planned before it. Planning the whole backlog (rather than the
 * oldest job alone) is what lets a slow server take work while the queue is long: the oldest job
 * finishes sooner on a busy fast server, but the tenth does not. When the plan puts a job on a
 * server that has a free slot now, the oldest waiting job that may go there takes the slot; jobs
 * planned on busy servers keep waiting. A server's load is max(reported queue, our jobs there).
 *
 * Returns the grants: (index into `jobs`, server). Pure; the caller applies them.
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
			servers.set(server, { load, planned: Math.max(load.reported, load.ours), ours: load.ours });
		}
	}
	// Unknown speed: assume as fast as the fastest known, so a new server is tried and learned.
	const known = [...servers.values()].map((s) => s.load.meanMs).filter((m): m is number => m !== undefined && m > 0);
	const fallbackMs = known.length > 0 ? Math.min(...known) : 1;
	const meanOf = (s: PlannedServer) => (s.load.meanMs !== undefined && s.load.meanMs > 0 ? s.load.meanMs : fallbackMs);
	const rotation = options.rotation ?? 0;

	const cheapest = (job: PlanJob<S>): S | undefined => {
		const up = job.servers.filter((s) => servers.get(s)?.load.up);
		// All marked down: plan on them anyway; the submit finds out and moves on.
		const eligible = up.length > 0 ? up : job.servers;
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

	const grants: Array<{ job: number; server: S }> = [];
	if (jobs.length === 0) return grants;
	const anySlot = jobs.some((job) => job.servers.some((s) => hasSlot(servers.get(s) as PlannedServer, job.slotsPerServer)));
	if (!anySlot) return grants;
	/** Waiting jobs the plan put on a busy server, oldest first. */
	const deferred: number[] = [];
	const arrivals = Math.max(0, Math.floor(options.expectedArrivals ?? 0));
	const last = jobs[jobs.length - 1];
	for (let k = 0; k < jobs.length + arrivals; k++) {
		const real = k < jobs.length;
		if (!real && deferred.length === 0) break;
		const job = real ? jobs[k] : last;
		const server = cheapest(job);
		if (server === undefined) continue;
		const state = servers.get(server) as PlannedServer;
		state.planned++;
		if (!hasSlot(state, job.slotsPerServer)) {
			if (real) deferred.push(k);
			continue;
		}
		const at = deferred.findIndex((d) => jobs[d].servers.includes(server) && hasSlot(state, jobs[d].slotsPerServer));
		let taker: number;
		if (at >= 0) {
			taker = deferred[at];
			deferred.splice(at, 1);
			// This job takes the older one's place in the plan, on the busy server.
			if (real) deferred.push(k);
		} else if (real) {
			taker = k;
		} else {
			continue;
		}
		grants.push({ job: taker, server });
		state.ours++;
		if (grants.length === jobs.length) break;
	}
	return grants;
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
export function reportedQueue(connection: ServerConnection): number {
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
/** Arrival times older than this are forgotten. */
const ARRIVALS_KEPT_MS = 10 * 60_000;
const ARRIVALS_KEPT = 10_000;

/**
 * The waiting room of every pool in this process: pools built from the same credentials (one per
 * n8n execution) share servers, so they share one FIFO and one count of jobs per server
 * (ServerConnection.activeJobs). In-process state like the connections themselves: jobs waiting
 * here belong to calls of this process and end with it.
 */
export class SlotScheduler {
	private held: HeldJob[] = [];
	private seq = 0;
	private rotation = 0;
	private arrivals: number[] = [];
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
			const grants = planDispatch(snapshot, serverLoad, {
				expectedArrivals: this.expectedArrivals(snapshot),
				rotation: this.rotation++,
			});
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
		const now = Date.now();
		this.arrivals.push(now);
		if (this.arrivals.length > ARRIVALS_KEPT || now - this.arrivals[0] > ARRIVALS_KEPT_MS) {
			const cutoff = now - ARRIVALS_KEPT_MS;
			this.arrivals = this.arrivals.filter((t, i) => t >= cutoff && i >= this.arrivals.length - ARRIVALS_KEPT);
		}
	}

	/** As many jobs as arrived during the last run of a job on the slowest known server. */
	private expectedArrivals(jobs: readonly HeldJob[]): number {
		let horizonMs = 0;
		const seen = new Set<ServerConnection>();
		for (const job of jobs) {
			for (const server of job.servers) {
				if (seen.has(server)) continue;
				seen.add(server);
				horizonMs = Math.max(horizonMs, meanJobTime(server) ?? 0);
			}
		}
		if (horizonMs <= 0) return 0;
		const since = Date.now() - horizonMs;
		let count = 0;
		for (let i = this.arrivals.length - 1; i >= 0 && this.arrivals[i] >= since; i--) count++;
		return count;
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
