/**
 * ComfyUI client against the simulator: happy path with the exact event order, every fault with
 * its expected outcome, cancellation on the server, auth, uploads and the small endpoints.
 */
import { createHash } from 'node:crypto';
import { connect, type AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
	closeAllComfyConnections,
	ComfyUiClient,
	ComfyUiError,
	describeNodeError,
	type ComfyEvent,
	type ComfyServerConfigInput,
} from '../lib/comfyui';
import { startComfySim, type ComfySim } from '../dev/comfyui-sim';
import { CHECKPOINT, fastClientConfig, SELF_SIGNED_CERT, SELF_SIGNED_KEY, simRef, txt2img, txt2video } from './comfyui.fixtures';

let sim: ComfySim;

beforeAll(async () => {
	sim = await startComfySim({ checkpoints: [CHECKPOINT, 'sdxl.safetensors'], nodeTimeMs: 2 });
});

afterAll(async () => {
	await closeAllComfyConnections();
	await sim.stop();
});

afterEach(async () => {
	sim.faults = {};
	sim.options.nodeTimeMs = 2;
	sim.setNodeTime('KSampler', 2);
	await sim.idle();
});

function client(extra: Partial<ComfyServerConfigInput> = {}): ComfyUiClient {
	return new ComfyUiClient(fastClientConfig(sim.url, extra));
}

async function rejection(promise: Promise<unknown>): Promise<ComfyUiError> {
	try {
		await promise;
	} catch (error) {
		expect(error).toBeInstanceOf(ComfyUiError);
		return error as ComfyUiError;
	}
	throw new Error('expected the promise to reject');
}

async function sha256(stream: Readable): Promise<{ hash: string; bytes: number }> {
	const hash = createHash('sha256');
	let bytes = 0;
	await pipeline(stream, async function* (source) {
		for await (const chunk of source) {
			bytes += (chunk as Buffer).length;
			hash.update(chunk as Buffer);
		}
		yield* [];
	});
	return { hash: hash.digest('hex'), bytes };
}

describe('happy path', () => {
	it('runs a workflow: socket before POST, events in ComfyUI order, outputs from history in the run folder', async () => {
		const comfy = client({ comfyOrgApiKey: 'comfyui-secret-key' });
		const events: ComfyEvent[] = [];
		const result = await comfy.run(txt2img({ seed: 101 }), { onProgress: (e) => events.push(e) });

		expect(result.status).toBe('success');
		expect(result.server).toBe(sim.url);
		const submitted = sim.submitted.find((s) => s.promptId === result.promptId);
		expect(submitted).toBeDefined();
		// Our WS clientId went with the prompt, and the Comfy.org key only as the sensitive extra_data key.
		expect(submitted?.clientId).toBe(comfy.serverConnection.events.clientId);
		expect(submitted?.sensitive.api_key_comfy_org).toBe('comfyui-secret-key');
		expect(JSON.stringify(submitted?.extraData)).not.toContain('comfyui-secret-key');
		// The socket was opened before the POST.
		const wsIndex = sim.requests.findIndex((r) => r.url.startsWith('/api/ws'));
		const postIndex = sim.requests.findIndex((r) => r.method === 'POST' && r.url.startsWith('/api/prompt'));
		expect(wsIndex).toBeGreaterThanOrEqual(0);
		expect(wsIndex).toBeLessThan(postIndex);

		// Event order as ComfyUI sends it (§2.3): start, cached, then per node executing (… executed), success.
		const types = events.map((e) => e.type);
		expect(types[0]).toBe('execution_start');
		expect(types[1]).toBe('execution_cached');
		expect(types).toContain('execution_success');
		const successAt = types.indexOf('execution_success');
		const executing = events.slice(0, successAt).filter((e) => e.type === 'executing').map((e) => e.data.node);
		expect(new Set(executing)).toEqual(new Set(['4', '5', '6', '7', '3', '8', '9']));
		// Topological: every node runs after the nodes it is linked to.
		const order = (id: string) => executing.indexOf(id);
		expect(order('4')).toBeLessThan(order('6'));
		expect(order('6')).toBeLessThan(order('3'));
		expect(order('3')).toBeLessThan(order('8'));
		expect(order('8')).toBeLessThan(order('9'));
		const executedAt = types.indexOf('executed');
		expect(events[executedAt].data.node).toBe('9');
		expect(executedAt).toBeGreaterThan(types.lastIndexOf('executing', successAt));
		expect(types.slice(0, successAt)).toContain('progress');
		for (const e of events) expect(e.data.prompt_id).toBe(result.promptId);

		// Outputs: read from history, in this run's folder, downloadable byte for byte.
		expect(result.runFolder).toBe(`promptlab/${result.promptId}`);
		expect(result.outputs).toHaveLength(1);
		const [file] = result.outputs;
		expect(file).toMatchObject({ nodeId: '9', kind: 'images', type: 'output', mimeType: 'image/png', cached: false });
		expect(file.subfolder).toBe(result.runFolder);
		expect(file.filename).toBe('ComfyUI_00001_.png');
		expect(result.history.status?.status_str).toBe('success');
		expect(result.timings.finishedAt).toBeGreaterThanOrEqual(result.timings.startedAt ?? 0);

		const download = await comfy.download(file);
		expect(download.mimeType).toBe('image/png');
		const { hash, bytes } = await sha256(download.stream);
		expect(hash).toBe(await sim.fileSha256(simRef(file)));
		if (download.bytes !== undefined) expect(bytes).toBe(download.bytes);
	});

	it('recognises a fully cached rerun: the save node still writes into the new run folder', async () => {
		const comfy = client();
		const first = await comfy.run(txt2img({ seed: 7 }));
		const second = await comfy.run(txt2img({ seed: 7 }));
		expect(second.cachedNodes).toEqual(expect.arrayContaining(['4', '3', '8']));
		expect(second.cachedNodes).not.toContain('9');
		expect(second.outputs[0].subfolder).toBe(`promptlab/${second.promptId}`);
		expect(second.outputs[0].subfolder).not.toBe(first.outputs[0].subfolder);
	});

	it('streams a file name that needs URL encoding', async () => {
		const comfy = client();
		const ref = { filename: 'a b&c=d+é#1.png', subfolder: 'weird dir/x&y', type: 'output' as const };
		sim.addFile(ref, Buffer.from('not really a png'));
		const download = await comfy.download(ref);
		const { hash } = await sha256(download.stream);
		expect(hash).toBe(await sim.fileSha256(ref));
	});
});

describe('errors name the ComfyUI node', () => {
	it('execution_error: node id, class type and exception', async () => {
		sim.faults.executionErrorAtNode = '3';
		sim.faults.executionErrorType = 'ValueError';
		sim.faults.executionErrorMessage = 'sampler exploded';
		const error = await rejection(client().run(txt2img({ seed: 201 })));
		expect(error).toMatchObject({ code: 'comfyui_execution_failed', httpStatus: 502 });
		expect(error.nodeErrors).toEqual([expect.objectContaining({ nodeId: '3', classType: 'KSampler', exceptionType: 'ValueError' })]);
		expect(error.message).toContain('node 3 (KSampler): ValueError: sampler exploded');
		expect(error.promptId).toBeDefined();
	});

	it('a checkpoint gone at run time: FileNotFoundError at the loader', async () => {
		// A checkpoint no earlier test loaded: a cached loader would not run at all.
		sim.faults.checkpointsMissingAtRun = ['sdxl.safetensors'];
		const error = await rejection(client().run(txt2img({ seed: 202, ckpt: 'sdxl.safetensors' })));
		expect(error.code).toBe('comfyui_execution_failed');
		expect(error.message).toMatch(/node 4 \(CheckpointLoaderSimple\): FileNotFoundError: Model in folder 'checkpoints'/);
	});

	it('out of memory: the exception plus what to do', async () => {
		sim.faults.oomAtNode = '3';
		const error = await rejection(client().run(txt2img({ seed: 203 })));
		expect(error.code).toBe('comfyui_execution_failed');
		expect(error.nodeErrors[0].exceptionType).toBe('torch.OutOfMemoryError');
		expect(error.hint).toMatch(/lower the resolution or batch size/);
	});

	it('400 node_errors: every failing node listed with its input; nothing queued', async () => {
		const before = sim.submitted.length;
		const error = await rejection(client().submit(txt2img({ ckpt: 'missing.safetensors', width: 4 })));
		expect(error.code).toBe('comfyui_prompt_invalid');
		expect(error.httpStatus).toBe(400);
		expect(error.upstreamStatus).toBe(400);
		const byNode = Object.fromEntries(error.nodeErrors.map((e) => [e.nodeId, e]));
		expect(byNode['4']).toMatchObject({ classType: 'CheckpointLoaderSimple', inputName: 'ckpt_name', errorType: 'value_not_in_list' });
		expect(byNode['5']).toMatchObject({ classType: 'EmptyLatentImage', inputName: 'width', errorType: 'value_smaller_than_min' });
		expect(error.message).toContain('Node 4 (CheckpointLoaderSimple) input "ckpt_name": Value not in list');
		expect(error.message).toMatch(/\(and 1 more\)$/);
		expect(describeNodeError(byNode['5'])).toMatch(/Node 5 \(EmptyLatentImage\) input "width": Value 4 smaller than min of 16/);
		expect(sim.submitted.length).toBe(before);
	});

	it('200 with node_errors: the valid outputs run, the dropped one is reported as a warning', async () => {
		const workflow = {
			...txt2img({ seed: 206 }),
			'20': { class_type: 'LoadImage', inputs: { image: 'does-not-exist.png' } },
			'21': { class_type: 'SaveImage', inputs: { filename_prefix: 'second', images: ['20', 0] } },
		};
		const result = await client().run(workflow);
		expect(result.status).toBe('success');
		expect(result.outputs.map((o) => o.nodeId)).toEqual(['9']);
		expect(result.warnings).toEqual([expect.objectContaining({ nodeId: '20', classType: 'LoadImage', inputName: 'image' })]);
	});

	it('UI-format workflow: refused before anything is sent, with export instructions', async () => {
		const before = sim.submissions.length;
		const ui = { last_node_id: 9, last_link_id: 9, nodes: [{ id: 9, type: 'SaveImage', widgets_values: ['ComfyUI'] }], links: [], version: 0.4 };
		const error = await client()
			.run(ui)
			.catch((e: unknown) => e);
		expect(error).toMatchObject({ code: 'workflow_ui_format', field: 'workflow', hint: expect.stringMatching(/Export \(API\)/) });
		expect(sim.submissions.length).toBe(before);
	});

	it('413: the workflow body is larger than the server accepts', async () => {
		const small = await startComfySim({ checkpoints: [CHECKPOINT], maxUploadBytes: 4096 });
		try {
			const error = await rejection(new ComfyUiClient(fastClientConfig(small.url)).submit(txt2img({ text: 'x'.repeat(10_000) })));
			expect(error).toMatchObject({ code: 'comfyui_payload_too_large', upstreamStatus: 413 });
			expect(error.hint).toMatch(/--max-upload-size/);
		} finally {
			await small.stop();
		}
	});
});

describe('never a lost job, never a false success', () => {
	it('WebSocket dropped mid-run, nothing replayed: recovered from history after reconnecting', async () => {
		const comfy = client();
		sim.setNodeTime('KSampler', 200);
		sim.faults.dropWsAfterEvents = 3;
		const reconnectsBefore = comfy.serverConnection.events.reconnects;
		const result = await comfy.run(txt2img({ seed: 301 }));
		expect(result.status).toBe('success');
		expect(result.outputs[0].subfolder).toBe(`promptlab/${result.promptId}`);
		expect(comfy.serverConnection.events.reconnects).toBeGreaterThan(reconnectsBefore);
	});

	it('stalled WebSocket (open, silent, answering pings): finished by the history poll', async () => {
		const comfy = client({ historyPollIntervalMs: 200 });
		await comfy.testConnection();
		sim.faults.stallWs = true;
		const events: ComfyEvent[] = [];
		const result = await comfy.run(txt2img({ seed: 302 }), { onProgress: (e) => events.push(e), timeoutMs: 10_000 });
		expect(result.status).toBe('success');
		expect(events.some((e) => e.type === 'execution_success')).toBe(false);
	});

	it('half-open socket (no pongs): the client reconnects and the poll finishes the job', async () => {
		const comfy = client();
		await comfy.testConnection();
		sim.faults.stallWs = true;
		sim.faults.stallWsPongs = true;
		// Longer than ping interval + pong timeout, so the dead socket is noticed mid-run.
		sim.setNodeTime('KSampler', 1_500);
		const reconnectsBefore = comfy.serverConnection.events.reconnects;
		const result = await comfy.run(txt2img({ seed: 303 }), { timeoutMs: 10_000 });
		expect(result.status).toBe('success');
		expect(comfy.serverConnection.events.reconnects).toBeGreaterThan(reconnectsBefore);
	});

	it('server restart during the run forgets queue and history: reported as lost, never as success', async () => {
		sim.setNodeTime('KSampler', 100);
		sim.faults.restartAtNode = '8';
		const error = await rejection(client().run(txt2img({ seed: 304 }), { timeoutMs: 10_000 }));
		expect(error.code).toBe('job_lost');
		expect(error.message).toMatch(/neither queued, running nor in the history/);
	});

	it('server restart while accepting the prompt: lost, not retried, not a success', async () => {
		sim.faults.restartDuringRun = true;
		const before = sim.submissions.length;
		const error = await rejection(client().run(txt2img({ seed: 307 }), { timeoutMs: 10_000 }));
		expect(error.code).toBe('job_lost');
		expect(sim.submissions.length - before).toBe(1);
	});

	it('execution_success before the history write (wide race): waits for history, then succeeds', async () => {
		sim.faults.historyDelayMs = 300;
		const result = await client().run(txt2img({ seed: 305 }));
		expect(result.status).toBe('success');
		expect(result.outputs).toHaveLength(1);
	});

	it('unknown broadcast events are ignored', async () => {
		sim.faults.unknownEvents = true;
		const result = await client().run(txt2img({ seed: 306 }));
		expect(result.status).toBe('success');
	});
});

describe('submit failures (retry policy: 503 retried twice, 500 never; a 5xx for a prompt that was queued anyway is accepted)', () => {
	it('500: a clear error, no retry, nothing queued', async () => {
		sim.faults.submitStatus = 500;
		const before = sim.submissions.length;
		const error = await rejection(client().submit(txt2img({ seed: 401 })));
		expect(error).toMatchObject({ code: 'comfyui_server_error', upstreamStatus: 500, httpStatus: 502 });
		expect(error.hint).toMatch(/server log/);
		expect(sim.submissions.length - before).toBe(1);
	});

	it('503 twice then accepted: retried with the same prompt_id, run once', async () => {
		sim.faults.submitStatus = 503;
		sim.faults.submitStatusCount = 2;
		const before = sim.submissions.length;
		const result = await client().run(txt2img({ seed: 402 }));
		expect(result.status).toBe('success');
		const attempts = sim.submissions.slice(before);
		expect(attempts.map((a) => a.status)).toEqual([503, 503, 200]);
		expect(sim.submitted.filter((s) => s.promptId === result.promptId)).toHaveLength(1);
	});

	it('503 for good: gives up after three attempts and says so', async () => {
		sim.faults.submitStatus = 503;
		const error = await rejection(client().submit(txt2img({ seed: 403 })));
		expect(error).toMatchObject({ code: 'comfyui_server_error', upstreamStatus: 503 });
		expect(error.message).toMatch(/after 3 attempts/);
	});

	it('5xx answered although the prompt was queued: accepted once, not submitted twice', async () => {
		sim.faults.submitStatus = 503;
		sim.faults.submitStatusCount = 1;
		sim.faults.submitFailAfterQueue = true;
		const before = sim.submissions.length;
		const result = await client().run(txt2img({ seed: 404 }));
		expect(result.status).toBe('success');
		expect(sim.submissions.length - before).toBe(1);
	});

	it('an unreachable server: unreachable, and known not to have received anything', async () => {
		const error = await rejection(new ComfyUiClient(fastClientConfig('http://127.0.0.1:1', { wsOpenTimeoutMs: 500 })).submit(txt2img()));
		expect(error).toMatchObject({ code: 'comfyui_unreachable', httpStatus: 503 });
		expect(error.requestSent).toBe(false);
	});
});

describe('timeout and cancel remove the job from the server', () => {
	it('timeout while pending: deleted from the queue; while running: interrupted', async () => {
		const comfy = client();
		sim.setNodeTime('KSampler', 30_000);
		const running = await comfy.submit(txt2img({ seed: 501, steps: 300 }));
		const pending = await comfy.submit(txt2img({ seed: 502, steps: 300 }));

		const pendingError = await rejection(comfy.waitForCompletion(pending.promptId, { timeoutMs: 300 }));
		expect(pendingError.code).toBe('comfyui_timeout');
		expect(pendingError.cancelAction).toBe('deleted_from_queue');
		expect(pendingError.message).toMatch(/deleted from it/);
		expect(sim.deletedFromQueue).toContain(pending.promptId);

		const runningError = await rejection(comfy.waitForCompletion(running.promptId, { timeoutMs: 300 }));
		expect(runningError.code).toBe('comfyui_timeout');
		expect(runningError.cancelAction).toBe('interrupted');
		expect(sim.interrupts).toContainEqual(expect.objectContaining({ promptId: running.promptId, applied: true }));
		await sim.idle();
		expect(sim.history()[running.promptId]?.status.status_str).toBe('error');
	});

	it('n8n cancel (AbortSignal): pending deleted, running interrupted, the error says which', async () => {
		const comfy = client();
		sim.setNodeTime('KSampler', 30_000);
		const running = await comfy.submit(txt2img({ seed: 503, steps: 300 }));
		const pending = await comfy.submit(txt2img({ seed: 504, steps: 300 }));
		const controller = new AbortController();
		const waits = [
			rejection(comfy.waitForCompletion(running.promptId, { signal: controller.signal })),
			rejection(comfy.waitForCompletion(pending.promptId, { signal: controller.signal })),
		];
		setTimeout(() => controller.abort(), 100);
		const [runningError, pendingError] = await Promise.all(waits);
		expect(runningError.code).toBe('job_cancelled');
		expect(pendingError.code).toBe('job_cancelled');
		// Both cancels race: whichever ran first may have left the other one running or already gone.
		expect(['interrupted', 'deleted_from_queue']).toContain(pendingError.cancelAction);
		expect(runningError.cancelAction).toBe('interrupted');
		expect(sim.interrupts).toContainEqual(expect.objectContaining({ promptId: running.promptId, applied: true }));
	});

	it('an already aborted signal cancels at once', async () => {
		const comfy = client();
		sim.setNodeTime('KSampler', 30_000);
		const job = await comfy.submit(txt2img({ seed: 505, steps: 300 }));
		const error = await rejection(comfy.waitForCompletion(job.promptId, { signal: AbortSignal.abort() }));
		expect(error.code).toBe('job_cancelled');
		expect(['interrupted', 'deleted_from_queue']).toContain(error.cancelAction);
	});

	it('cancel during the submit (503 retry wait): cancelled, nothing left on the server', async () => {
		sim.faults.submitStatus = 503;
		const controller = new AbortController();
		setTimeout(() => controller.abort(), 100);
		const error = await rejection(client().submit(txt2img({ seed: 509 }), { signal: controller.signal }));
		expect(error.code).toBe('job_cancelled');
		expect(error.message).toMatch(/had not accepted it/);
		expect(sim.queueLength()).toBe(0);
	});

	it('cancel(promptId) by id, and lookup() reports each state', async () => {
		const comfy = client();
		sim.setNodeTime('KSampler', 30_000);
		const running = await comfy.submit(txt2img({ seed: 506, steps: 300 }));
		const pending = await comfy.submit(txt2img({ seed: 507, steps: 300 }));
		await waitFor(() => sim.queue().running.includes(running.promptId));
		expect(await comfy.lookup(running.promptId)).toEqual({ state: 'running' });
		expect(await comfy.lookup(pending.promptId)).toEqual({ state: 'pending', position: 0 });
		const queue = await comfy.getQueue();
		expect(queue.running.map((i) => i.promptId)).toEqual([running.promptId]);
		expect(queue.pending.map((i) => i.promptId)).toEqual([pending.promptId]);
		expect(queue.remaining).toBe(2);

		expect(await comfy.cancel(pending.promptId)).toBe('deleted_from_queue');
		expect(await comfy.cancel(running.promptId)).toBe('interrupted');
		await sim.idle();
		expect(await comfy.cancel(running.promptId)).toBe('already_finished');
		expect(await comfy.cancel('no-such-prompt')).toBe('not_found');
		// Submitted and never waited for: once finished or deleted, the client stopped listening for it.
		expect(comfy.serverConnection.prompts.get(running.promptId)).toBeUndefined();
		expect(comfy.serverConnection.prompts.get(pending.promptId)).toBeUndefined();
		expect(await comfy.lookup('no-such-prompt')).toEqual({ state: 'unknown' });
		const interrupted = await comfy.lookup(running.promptId);
		expect(interrupted.state).toBe('failed');

		sim.setNodeTime('KSampler', 2);
		const done = await comfy.run(txt2img({ seed: 508 }));
		const found = await comfy.lookup(done.promptId);
		expect(found.state).toBe('success');
		if (found.state === 'success') expect(found.result.outputs.map((o) => o.filename)).toEqual(done.outputs.map((o) => o.filename));
		expect((await comfy.getHistory(done.promptId))?.status?.status_str).toBe('success');
	});
});

describe('auth', () => {
	const cases: Array<{
		name: string;
		simAuth: NonNullable<ComfySim['faults']['auth']>;
		good: ComfyServerConfigInput['auth'];
		fix: RegExp;
	}> = [
		{ name: 'Bearer', simAuth: { type: 'bearer', token: 's3cret' }, good: { type: 'bearer', token: 's3cret' }, fix: /Bearer, Basic, header or query-token auth/ },
		{ name: 'Basic', simAuth: { type: 'basic', user: 'ann', password: 'pw' }, good: { type: 'basic', username: 'ann', password: 'pw' }, fix: /Bearer, Basic, header or query-token auth/ },
		{ name: 'query token', simAuth: { type: 'query', value: 'q-token' }, good: { type: 'query', value: 'q-token' }, fix: /Bearer, Basic, header or query-token auth/ },
		{ name: 'ComfyUI-Login redirect', simAuth: { type: 'redirect-login', token: 'hash' }, good: { type: 'bearer', token: 'hash' }, fix: /redirects to a login page/ },
	];

	for (const c of cases) {
		it(`${c.name}: refused without credentials (auth error naming the fix), works with them`, async () => {
			sim.faults.auth = c.simAuth;
			const anonymous = await client().testConnection();
			expect(anonymous.ok).toBe(false);
			expect(anonymous.error?.code).toBe('comfyui_auth_failed');
			expect(anonymous.message).toMatch(c.fix);
			const runError = await rejection(client().submit(txt2img()));
			expect(runError.code).toBe('comfyui_auth_failed');

			const authed = client({ auth: c.good });
			const test = await authed.testConnection();
			expect(test).toMatchObject({ ok: true, websocket: true });
			const result = await authed.run(txt2img({ seed: 600 + cases.indexOf(c) }));
			expect(result.status).toBe('success');
			const { hash } = await sha256((await authed.download(result.outputs[0])).stream);
			expect(hash).toBe(await sim.fileSha256(simRef(result.outputs[0])));
		});
	}

	it('a custom header is sent on every request and the socket; no Origin header', async () => {
		const comfy = client({ auth: { type: 'header', name: 'X-API-Key', value: 'key-123' } });
		const before = sim.requests.length;
		const result = await comfy.run(txt2img({ seed: 610 }));
		await (await comfy.download(result.outputs[0])).stream.resume();
		const mine = sim.requests.slice(before);
		expect(mine.length).toBeGreaterThan(2);
		for (const r of mine) {
			expect(r.headers['x-api-key']).toBe('key-123');
			expect(r.headers.origin).toBeUndefined();
		}
	});

	it('self-signed TLS: refused with the fix named, accepted when allowed (HTTPS and WSS)', async () => {
		// A TLS front for the simulator, like a reverse proxy with its own certificate.
		const front = createTlsServer({ key: SELF_SIGNED_KEY, cert: SELF_SIGNED_CERT }, (socket) => {
			const upstream = connect(sim.port, '127.0.0.1');
			socket.pipe(upstream).pipe(socket);
			const close = () => {
				socket.destroy();
				upstream.destroy();
			};
			socket.on('error', close);
			upstream.on('error', close);
		});
		await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
		const url = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
		try {
			const strict = await new ComfyUiClient(fastClientConfig(url)).testConnection();
			expect(strict.ok).toBe(false);
			expect(strict.error?.code).toBe('comfyui_unreachable');
			expect(strict.message).toMatch(/Allow self-signed certificates/);

			const relaxed = new ComfyUiClient(fastClientConfig(url, { allowSelfSigned: true }));
			expect(await relaxed.testConnection()).toMatchObject({ ok: true, websocket: true });
			const events: string[] = [];
			const result = await relaxed.run(txt2img({ seed: 611 }), { onProgress: (e) => events.push(e.type) });
			expect(events).toContain('execution_start');
			const { hash } = await sha256((await relaxed.download(result.outputs[0])).stream);
			expect(hash).toBe(await sim.fileSha256(simRef(result.outputs[0])));
		} finally {
			await closeAllComfyConnections();
			await new Promise<void>((resolve) => front.close(() => resolve()));
		}
	});

	it('a wrong Bearer token says the token was refused', async () => {
		sim.faults.auth = { type: 'bearer', token: 'right' };
		const test = await client({ auth: { type: 'bearer', token: 'wrong' } }).testConnection();
		expect(test.ok).toBe(false);
		expect(test.message).toMatch(/refused the Bearer token/);
	});
});

describe('small endpoints', () => {
	it('testConnection reports version and device; listCheckpoints reads the loader options', async () => {
		const comfy = client();
		const test = await comfy.testConnection();
		expect(test.ok).toBe(true);
		expect(test.comfyuiVersion).toBeDefined();
		expect(test.message).toContain(sim.url);
		expect(await comfy.listCheckpoints()).toEqual([CHECKPOINT, 'sdxl.safetensors']);
		const info = await comfy.objectInfo('KSampler');
		expect(Object.keys(info)).toEqual(['KSampler']);
		expect(await comfy.getQueueRemaining()).toBe(0);
		const stats = await comfy.systemStats();
		expect(Array.isArray(stats.devices)).toBe(true);
	});

	it('uploads an input image from a Buffer and from a stream, then runs img2img-style with it', async () => {
		const comfy = client();
		const pngBytes = Buffer.from('89504e470d0a1a0a', 'hex');
		const fromBuffer = await comfy.uploadImage(pngBytes, 'photo.png', { overwrite: true });
		expect(fromBuffer).toEqual({ name: 'photo.png', subfolder: '', type: 'input', reference: 'photo.png' });
		expect(await sim.fileSha256({ filename: 'photo.png', type: 'input' })).toBe(createHash('sha256').update(pngBytes).digest('hex'));

		const big = Buffer.alloc(3 * 1024 * 1024, 7);
		const fromStream = await comfy.uploadImage(Readable.from([big.subarray(0, 1_000_000), big.subarray(1_000_000)]), 'big "one".png', {
			subfolder: 'uploads',
		});
		expect(fromStream.subfolder).toBe('uploads');
		expect(fromStream.reference).toBe(`uploads/${fromStream.name}`);
		expect(await sim.fileSha256({ filename: fromStream.name, subfolder: 'uploads', type: 'input' })).toBe(
			createHash('sha256').update(big).digest('hex'),
		);

		const workflow = {
			'1': { class_type: 'LoadImage', inputs: { image: fromBuffer.reference } },
			'2': { class_type: 'SaveImage', inputs: { filename_prefix: 'img2img', images: ['1', 0] } },
		};
		const result = await comfy.run(workflow);
		expect(result.outputs[0].subfolder).toBe(`promptlab/${result.promptId}`);
	});

	it('a slow download still completes', async () => {
		const comfy = client();
		const ref = { filename: 'slow.bin', type: 'output' as const };
		sim.addFile(ref, { sizeBytes: 600 * 1024 });
		sim.faults.downloadBytesPerSecond = 400 * 1024;
		const download = await comfy.download(ref);
		const { hash, bytes } = await sha256(download.stream);
		expect(bytes).toBe(600 * 1024);
		expect(hash).toBe(await sim.fileSha256(ref));
	});

	it('servers from before the /api prefix: apiPrefix "" uses the bare routes', async () => {
		const comfy = client({ apiPrefix: '' });
		const before = sim.requests.length;
		const result = await comfy.run(txt2img({ seed: 702 }));
		expect(result.status).toBe('success');
		const paths = sim.requests.slice(before).map((r) => r.url);
		expect(paths.some((u) => u.startsWith('/prompt'))).toBe(true);
		expect(paths.some((u) => u.startsWith('/api/'))).toBe(false);
	});

	it('video outputs are found and typed', async () => {
		const result = await client().run(txt2video({ seed: 701 }));
		expect(result.outputs).toEqual([expect.objectContaining({ nodeId: '11', kind: 'images', animated: true, mimeType: 'video/mp4' })]);
	});
});

describe('clean up', () => {
	/** Timers set directly by lib/comfyui that have neither fired nor been cleared. */
	function trackLibraryTimers(): { live: () => number; restore: () => void } {
		const live = new Set<unknown>();
		const real = { setTimeout, clearTimeout, setInterval, clearInterval };
		const fromLibrary = () => /lib\/comfyui\//.test((new Error().stack ?? '').split('\n')[3] ?? '');
		const g = global as unknown as Record<string, unknown>;
		g.setTimeout = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
			const timer = real.setTimeout(() => {
				live.delete(timer);
				fn(...args);
			}, ms);
			if (fromLibrary()) live.add(timer);
			return timer;
		};
		g.setInterval = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
			const timer = real.setInterval(fn, ms, ...args);
			if (fromLibrary()) live.add(timer);
			return timer;
		};
		g.clearTimeout = (timer?: NodeJS.Timeout) => {
			live.delete(timer);
			real.clearTimeout(timer);
		};
		g.clearInterval = (timer?: NodeJS.Timeout) => {
			live.delete(timer);
			real.clearInterval(timer);
		};
		return { live: () => live.size, restore: () => Object.assign(g, real) };
	}

	it('every outcome releases its subscription and timers; closeAllComfyConnections clears the rest', async () => {
		await closeAllComfyConnections();
		const timers = trackLibraryTimers();
		try {
			const comfy = client();
			await comfy.run(txt2img({ seed: 801 }));
			sim.faults.executionErrorAtNode = '8';
			await rejection(comfy.run(txt2img({ seed: 802 })));
			sim.faults = {};
			sim.setNodeTime('KSampler', 30_000);
			await rejection(comfy.run(txt2img({ seed: 803, steps: 300 }), { timeoutMs: 100 }));
			expect(comfy.serverConnection.prompts.size).toBe(0);
			expect(comfy.serverConnection.events.subscriptions).toBe(0);
			// Left: the socket's ping interval and idle-close timer, nothing per job.
			expect(timers.live()).toBeLessThanOrEqual(2);
			expect(timers.live()).toBeGreaterThan(0);
			await closeAllComfyConnections();
			expect(timers.live()).toBe(0);
		} finally {
			timers.restore();
		}
	});
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
	const start = Date.now();
	while (!condition()) {
		if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
		await new Promise((r) => setTimeout(r, 10));
	}
}
