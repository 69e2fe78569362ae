/**
 * Many jobs at once, on one server and across a pool: nothing lost, nothing mixed up; jobs spread
 * by server speed; jobs waiting in the pool cancellable; a dead server skipped; a 200 MB output
 * streamed with bounded memory.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
	closeAllComfyConnections,
	ComfyServerPool,
	ComfyUiClient,
	type CompletionResult,
} from '../lib/comfyui';
import { planDispatch, slotScheduler, type ServerLoad } from '../lib/comfyui/scheduler';
import { startComfySim, type ComfySim, type SimHistoryEntry } from '../dev/comfyui-sim';
import { CHECKPOINT, fastClientConfig, simRef, txt2img, txt2video } from './comfyui.fixtures';

const sims: ComfySim[] = [];

async function sim(options: Parameters<typeof startComfySim>[0] = {}): Promise<ComfySim> {
	const started = await startComfySim({ checkpoints: [CHECKPOINT], nodeTimeMs: 1, ...options });
	sims.push(started);
	return started;
}

afterAll(async () => {
	await closeAllComfyConnections();
	await Promise.all(sims.map((s) => s.stop()));
});

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise<void>((resolve) => server.close(() => resolve()));
	return port;
}

/** Resolves once `condition` holds (checked every 5 ms); a state to wait for, not a timing. */
async function until(condition: () => boolean, what: string): Promise<void> {
	for (let i = 0; i < 2_000; i++) {
		if (condition()) return;
		await new Promise((resolve) => setTimeout(resolve, 5));
	}
	throw new Error(`never happened: ${what}`);
}

/** Each result's outputs are its own: in its own run folder, and ComfyUI ran that exact prompt there. */
function expectOwnOutputs(results: CompletionResult[], simByUrl: Map<string, ComfySim>): void {
	const ids = new Set(results.map((r) => r.promptId));
	expect(ids.size).toBe(results.length);
	const files = new Set<string>();
	for (const result of results) {
		expect(result.status).toBe('success');
		expect(result.outputs).toHaveLength(1);
		const [file] = result.outputs;
		expect(file.subfolder).toBe(`promptlab/${result.promptId}`);
		files.add(`${result.server}|${file.subfolder}/${file.filename}`);
		const server = simByUrl.get(result.server) as ComfySim;
		const history = server.history()[result.promptId];
		expect(history.status.status_str).toBe('success');
		const saved = history.outputs['9'].images[0] as { subfolder: string };
		expect(saved.subfolder).toBe(file.subfolder);
	}
	expect(files.size).toBe(results.length);
}

it('50 concurrent runs on one server: all succeed, each with its own outputs', async () => {
	const server = await sim();
	const comfy = new ComfyUiClient(fastClientConfig(server.url));
	const seen = new Map<number, Set<unknown>>();
	const results = await Promise.all(
		Array.from({ length: 50 }, (_, i) => {
			seen.set(i, new Set());
			return comfy.run(txt2img({ seed: 1000 + i }), { onProgress: (e) => seen.get(i)?.add(e.data.prompt_id) });
		}),
	);
	expectOwnOutputs(results, new Map([[server.url, server]]));
	// One shared socket, events demultiplexed: each run saw its own prompt's events and no other's.
	results.forEach((r, i) => expect([...(seen.get(i) ?? [])]).toEqual([r.promptId]));
	expect(server.submitted).toHaveLength(50);
	expect(comfy.serverConnection.prompts.size).toBe(0);
});

it('50 concurrent runs across a 3-server pool: spread over all three, nothing lost or mixed up', async () => {
	const servers = await Promise.all([sim({ nodeTimeMs: 2 }), sim({ nodeTimeMs: 2 }), sim({ nodeTimeMs: 2 })]);
	const pool = new ComfyServerPool(servers.map((s) => fastClientConfig(s.url)));
	const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.run(txt2img({ seed: 2000 + i }))));
	expectOwnOutputs(results, new Map(servers.map((s) => [s.url, s])));
	for (const server of servers) {
		const mine = results.filter((r) => r.server === server.url);
		// Balanced by queue depth: no server is left idle or gets most of the work.
		expect(mine.length).toBeGreaterThan(5);
		expect(mine.length).toBeLessThan(30);
		for (const r of mine) expect(server.submitted.some((s) => s.promptId === r.promptId)).toBe(true);
	}
	expect(servers.reduce((n, s) => n + s.submitted.length, 0)).toBe(50);
	// Downloads go to the server that ran the job.
	const last = results[results.length - 1];
	const download = await pool.download(last.server, last.outputs[0]);
	download.stream.resume();
	await new Promise((resolve) => download.stream.on('end', resolve));
	const owner = servers.find((s) => s.url === last.server) as ComfySim;
	expect(owner.requests.some((r) => r.url.startsWith('/api/view') && r.url.includes(encodeURIComponent(last.promptId)))).toBe(true);
	for (const c of pool.clients) expect(c.serverConnection.activeJobs).toBe(0);
});

it('servers of unequal speed: a burst holds the slow one to its first two slots; once speeds are known, a burst skips it', async () => {
	// Two fast servers (1 ms per node) and one slow (400 ms per node: ≥ 2.8 s per job, since a
	// timer never fires early), no caching, so every job runs all 7 nodes. CPU load stretches the
	// fast servers' jobs (measured 20 ms idle, 150–600 ms on a machine at load average 12), so
	// what is asserted follows from the pool's rules and the order of events, not from how many
	// jobs each server manages per second.
	const [fastA, fastB, slow] = await Promise.all([
		sim({ nodeTimeMs: 1, cache: false }),
		sim({ nodeTimeMs: 1, cache: false }),
		sim({ nodeTimeMs: 400, cache: false }),
	]);
	const servers = [fastA, fastB, slow];
	const simByUrl = new Map(servers.map((s) => [s.url, s]));
	const pool = new ComfyServerPool(servers.map((s) => fastClientConfig(s.url)));
	const count = (results: CompletionResult[], server: ComfySim) => results.filter((r) => r.server === server.url).length;

	// 1. A burst of 60 before anything is known. Placing each job on the shortest queue at submit
	//    time gave each server 20. Held in the pool, every server gets its two slots (one running,
	//    one queued) and nothing more until one of its jobs ends: the slow server had exactly two
	//    jobs sent before it finished its first. Afterwards it may take more while the backlog is
	//    long (how many depends on the speeds learned, hence on the load: 3 at load average 15), but
	//    fewer than either fast server.
	const first = await Promise.all(Array.from({ length: 60 }, (_, i) => pool.run(txt2img({ seed: 5000 + i }))));
	expectOwnOutputs(first, simByUrl);
	const successAt = (entry: SimHistoryEntry) => entry.status.messages.find(([type]) => type === 'execution_success')?.[1].timestamp as number;
	const slowFirstDoneAt = Math.min(...Object.values(slow.history()).map(successAt));
	expect(slow.submitted.filter((s) => s.at < slowFirstDoneAt)).toHaveLength(2);
	expect(count(first, slow)).toBeLessThan(count(first, fastA));
	expect(count(first, slow)).toBeLessThan(count(first, fastB));
	expect(count(first, fastA) + count(first, fastB) + count(first, slow)).toBe(60);
	// The pool learned each server's speed from the jobs it ran.
	const health = await pool.health();
	const mean = (server: ComfySim) => health.find((h) => h.server === server.url)?.meanJobMs as number;
	expect(mean(slow)).toBeGreaterThan(mean(fastA));
	expect(mean(slow)).toBeGreaterThan(mean(fastB));

	// 2. Speeds known, every server idle: a burst of 6, as many as the free slots. A pool that
	//    filled free slots in arrival order would give the slow server two. This one queues the
	//    fifth and sixth behind the fast servers' jobs, as they finish there (3 × a fast job) before
	//    one job on the slow server, and the idle slow server takes none while the work known
	//    drains within 1.5 × its job time (both hold while a fast job, as learned, is under
	//    2.8 s / 4.5 ≈ 620 ms).
	const slowBefore = slow.submitted.length;
	const second = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.run(txt2img({ seed: 5100 + i }))));
	expectOwnOutputs(second, simByUrl);
	expect(count(second, slow)).toBe(0);
	expect(slow.submitted).toHaveLength(slowBefore);
	for (const c of pool.clients) expect(c.serverConnection.activeJobs).toBe(0);
	expect(slotScheduler().waiting).toBe(0);
});

it('a job waiting for a free server is cancelled or times out without ever reaching a server', async () => {
	const server = await sim({ nodeTimeMs: 100 });
	const pool = new ComfyServerPool([fastClientConfig(server.url)]);
	const connection = pool.clients[0].serverConnection;
	// Two jobs (≥ 0.7 s each) fill the server's two slots; further jobs wait in the pool.
	const blockers = [pool.run(txt2img({ seed: 6000 })), pool.run(txt2img({ seed: 6001 }))];
	await until(() => connection.activeJobs === 2, 'both blockers placed');

	const cancelledId = '6b1f0d5e-0000-4000-8000-000000000001';
	const timedOutId = '6b1f0d5e-0000-4000-8000-000000000002';
	const abort = new AbortController();
	const cancelled = pool.run(txt2img({ seed: 6002 }), { promptId: cancelledId, signal: abort.signal });
	const timedOut = pool.run(txt2img({ seed: 6003 }), { promptId: timedOutId, timeoutMs: 400 });
	await until(() => slotScheduler().waiting === 2, 'both jobs waiting in the pool');
	abort.abort();

	const cancelError = await cancelled.then(() => undefined, (e: unknown) => e);
	expect(cancelError).toMatchObject({ code: 'job_cancelled', cancelAction: undefined, requestSent: false, promptId: cancelledId });
	expect((cancelError as Error).message).toMatch(/still waiting for a free server/);
	const timeoutError = await timedOut.then(() => undefined, (e: unknown) => e);
	expect(timeoutError).toMatchObject({ code: 'comfyui_timeout', cancelAction: undefined, requestSent: false, promptId: timedOutId });
	expect((timeoutError as Error).message).toMatch(/still waiting for a free server/);

	const done = await Promise.all(blockers);
	for (const r of done) expect(r.status).toBe('success');
	// Neither waiting job was ever sent: not queued, not cancelled, not asked about.
	for (const id of [cancelledId, timedOutId]) {
		expect(server.submitted.some((s) => s.promptId === id)).toBe(false);
		expect(server.requests.some((r) => r.url.includes(id))).toBe(false);
	}
	expect(server.submitted).toHaveLength(2);
	expect(slotScheduler().waiting).toBe(0);
	expect(connection.activeJobs).toBe(0);
	// The pool goes on: a later job runs.
	expect((await pool.run(txt2img({ seed: 6004 }))).status).toBe('success');
});

it("run()'s timeout counts the wait in the pool: what is left of it applies on the server", async () => {
	const server = await sim({ nodeTimeMs: 200, cache: false });
	const pool = new ComfyServerPool([fastClientConfig(server.url)], { slotsPerServer: 1 });
	const blocker = pool.run(txt2img({ seed: 6100 }));
	await until(() => pool.clients[0].serverConnection.activeJobs === 1, 'blocker placed');
	// Waits ≥ 1.4 s for the blocker (7 nodes × 200 ms), then has ≤ 1.1 s of its 2.5 s left for a ≥ 1.4 s job.
	const late = await pool.run(txt2img({ seed: 6101 }), { timeoutMs: 2_500 }).then(() => undefined, (e: unknown) => e);
	expect(late).toMatchObject({ code: 'comfyui_timeout' });
	expect(['deleted_from_queue', 'interrupted']).toContain((late as { cancelAction?: string }).cancelAction);
	expect((late as Error).message).toMatch(/waited [\d.]+ s in the pool for a free server; the 2.5 s timeout counts both/);
	expect((await blocker).status).toBe('success');
});

it('jobs waiting in the pool move to the next server when theirs answers 503', async () => {
	const unavailable = await sim({ faults: { submitStatus: 503 } });
	const live = await sim({ nodeTimeMs: 2 });
	const pool = new ComfyServerPool([fastClientConfig(unavailable.url), fastClientConfig(live.url)]);
	const results = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.run(txt2img({ seed: 7000 + i }))));
	for (const r of results) expect(r.server).toBe(live.url);
	expectOwnOutputs(results, new Map([[live.url, live]]));
	expect(unavailable.submitted).toHaveLength(0);
	expect(unavailable.requests.some((r) => r.method === 'POST' && r.url.endsWith('/prompt') && r.status === 503)).toBe(true);
	expect((pool.client(unavailable.url) as ComfyUiClient).serverConnection.downUntil).toBeGreaterThan(Date.now());
	for (const c of pool.clients) expect(c.serverConnection.activeJobs).toBe(0);
});

it('submit() places at once and the pool learns the server speed from the prompt events', async () => {
	const server = await sim({ nodeTimeMs: 3 });
	const pool = new ComfyServerPool([fastClientConfig(server.url)]);
	const submitted = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.submit(txt2img({ seed: 8000 + i }))));
	// Not held back by the slots run() uses: all five are on the server's queue.
	expect(server.submitted).toHaveLength(5);
	const client = pool.client(server.url) as ComfyUiClient;
	for (const s of submitted) expect((await client.waitForCompletion(s.promptId)).status).toBe('success');
	const [health] = await pool.health();
	expect(health.meanJobMs).toBeGreaterThan(0);
	expect(health.activeJobs).toBe(0);
});

describe('planDispatch (where waiting jobs go)', () => {
	const speeds = { fastA: 70, fastB: 70, medium: 140, slow: 280 };
	type Name = keyof typeof speeds;
	const all = Object.keys(speeds) as Name[];
	const loads = (ours: Partial<Record<Name, number>>, reported: Partial<Record<Name, number>> = {}) =>
		(name: Name): ServerLoad => ({ ours: ours[name] ?? 0, reported: reported[name] ?? ours[name] ?? 0, meanMs: speeds[name], up: true });
	const waiting = (n: number) => Array.from({ length: n }, () => ({ servers: all, slotsPerServer: 2 }));
	const perServer = (grants: Array<{ server: Name }>) => Object.fromEntries(all.map((n) => [n, grants.filter((g) => g.server === n).length]));

	it('fills every server up to its slots while the backlog is long, oldest jobs first', () => {
		const grants = planDispatch(waiting(200), loads({}));
		expect(perServer(grants)).toEqual({ fastA: 2, fastB: 2, medium: 2, slow: 2 });
		expect(grants.map((g) => g.job).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
	});

	it('at the end of a batch, keeps the last jobs for a fast server rather than the idle slow one', () => {
		// Fast servers full, the slow one idle, two jobs left and nothing else arriving: each would
		// finish sooner queued for a fast server (3 × 70 ms) than on the slow one (280 ms).
		expect(planDispatch(waiting(2), loads({ fastA: 2, fastB: 2, medium: 2 }))).toEqual([]);
		// With a long backlog the slow server is worth its slots.
		expect(perServer(planDispatch(waiting(20), loads({ fastA: 2, fastB: 2, medium: 2 })))).toEqual({ fastA: 0, fastB: 0, medium: 0, slow: 2 });
	});

	it('while jobs keep arriving, an idle slow server takes a waiting job', () => {
		expect(perServer(planDispatch(waiting(2), loads({ fastA: 2, fastB: 2, medium: 2 }), { arrivalGapMs: 30 }))).toEqual({
			fastA: 0,
			fastB: 0,
			medium: 0,
			slow: 1,
		});
	});

	it("counts other clients' jobs the server reports, and skips servers marked down", () => {
		// fastA reports 6 queued jobs of another process: the job goes to fastB.
		expect(planDispatch(waiting(1), loads({}, { fastA: 6 }))[0].server).toBe('fastB');
		const downB = (name: Name): ServerLoad => ({ ...loads({}, { fastA: 6 })(name), up: name !== 'fastB' });
		expect(planDispatch(waiting(1), downB)[0].server).toBe('medium');
	});
});

it('the pool skips an unreachable server and marks it down', async () => {
	const live = await sim();
	const deadUrl = `http://127.0.0.1:${await deadPort()}`;
	const pool = new ComfyServerPool([fastClientConfig(deadUrl, { connectTimeoutMs: 1_000 }), fastClientConfig(live.url)]);
	const results = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.run(txt2img({ seed: 3000 + i }))));
	for (const r of results) {
		expect(r.status).toBe('success');
		expect(r.server).toBe(live.url);
	}
	const dead = pool.client(deadUrl) as ComfyUiClient;
	expect(dead.serverConnection.downUntil).toBeGreaterThan(Date.now());
	const health = await pool.health();
	expect(health.find((h) => h.server === deadUrl)?.up).toBe(false);
	expect(health.find((h) => h.server === live.url)?.up).toBe(true);
});

it('a pool whose servers are all down fails with unreachable, listing each server', async () => {
	const pool = new ComfyServerPool([`http://127.0.0.1:${await deadPort()}`, `http://127.0.0.1:${await deadPort()}`].map((u) => fastClientConfig(u, { wsOpenTimeoutMs: 300 })));
	await expect(pool.run(txt2img())).rejects.toMatchObject({ code: 'comfyui_unreachable' });
});

it('streams a 200 MB output to a hashing sink with bounded memory', async () => {
	const size = 200 * 1024 * 1024;
	const server = await sim({ faults: { outputSizeBytes: size } });
	const comfy = new ComfyUiClient(fastClientConfig(server.url));
	const result = await comfy.run(txt2video({ seed: 4000 }));
	const [file] = result.outputs;
	expect(file.mimeType).toBe('video/mp4');

	global.gc?.();
	const baseline = process.memoryUsage();
	let peakExternal = 0;
	let peakHeap = 0;
	const hash = createHash('sha256');
	let bytes = 0;
	const download = await comfy.download(file);
	expect(download.bytes).toBe(size);
	await pipeline(
		download.stream,
		new Writable({
			write(chunk: Buffer, _encoding, callback) {
				hash.update(chunk);
				bytes += chunk.length;
				if ((bytes & 0xfffff) < chunk.length) {
					const usage = process.memoryUsage();
					peakExternal = Math.max(peakExternal, usage.arrayBuffers);
					peakHeap = Math.max(peakHeap, usage.heapUsed);
				}
				callback();
			},
		}),
	);
	expect(bytes).toBe(size);
	expect(hash.digest('hex')).toBe(await server.fileSha256(simRef(file)));
	// Buffered, the file alone would add 200 MB; streamed, the growth stays a small fraction of it.
	expect(peakExternal - baseline.arrayBuffers).toBeLessThan(64 * 1024 * 1024);
	expect(peakHeap - baseline.heapUsed).toBeLessThan(64 * 1024 * 1024);
});
