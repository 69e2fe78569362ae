/**
 * Many jobs at once, on one server and across a pool: nothing lost, nothing mixed up; a dead
 * server skipped; a 200 MB output streamed with bounded memory.
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
import { startComfySim, type ComfySim } from './comfyui-sim';
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
	await expect(pool.run(txt2img())).rejects.toMatchObject({ code: 'unreachable' });
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
