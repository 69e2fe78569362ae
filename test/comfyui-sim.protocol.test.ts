/**
 * The simulator speaks ComfyUI's protocol (research/comfyui-protocol.md): driven here with plain
 * fetch + ws, never with lib/comfyui, so a client bug cannot hide a simulator bug.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

import { readPngSize, readPngText, startComfySim, textWorkflow, txt2imgWorkflow, videoWorkflow, type ComfySim } from '../dev/comfyui-sim';

// Protocol bodies are asserted structurally; typing every ComfyUI shape here would only restate the report.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface WsMessage {
	type: string;
	data: Record<string, unknown>;
}

/** A WS client that records every frame and can wait for one. */
class Listener {
	readonly messages: WsMessage[] = [];
	readonly binary: Buffer[] = [];
	closeCode: number | null = null;
	private waiters: Array<() => void> = [];
	private constructor(readonly ws: WebSocket) {
		ws.on('message', (data, isBinary) => {
			if (isBinary) this.binary.push(data as Buffer);
			else this.messages.push(JSON.parse(data.toString()) as WsMessage);
			this.notify();
		});
		ws.on('close', (code) => {
			this.closeCode = code;
			this.notify();
		});
		ws.on('error', () => undefined);
	}

	static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<Listener> {
		const ws = new WebSocket(url, options);
		const listener = new Listener(ws);
		await new Promise<void>((resolve, reject) => {
			ws.once('open', () => resolve());
			ws.once('error', reject);
		});
		await listener.waitFor((m) => m.type === 'status' && 'sid' in m.data);
		return listener;
	}

	private notify(): void {
		const waiters = this.waiters;
		this.waiters = [];
		for (const wake of waiters) wake();
	}

	async waitFor(predicate: (m: WsMessage) => boolean, timeoutMs = 5000): Promise<WsMessage> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const found = this.messages.find(predicate);
			if (found) return found;
			if (Date.now() > deadline) throw new Error(`timed out; got ${this.messages.map((m) => m.type).join(',')}`);
			await new Promise<void>((resolve) => {
				this.waiters.push(resolve);
				setTimeout(resolve, 50);
			});
		}
	}

	async waitForClose(timeoutMs = 5000): Promise<number> {
		const deadline = Date.now() + timeoutMs;
		while (this.closeCode === null) {
			if (Date.now() > deadline) throw new Error('socket did not close');
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
		return this.closeCode;
	}

	forPrompt(promptId: string): WsMessage[] {
		return this.messages.filter((m) => m.data && m.data.prompt_id === promptId);
	}

	close(): void {
		this.ws.terminate();
	}
}

async function post(sim: ComfySim, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
	return fetch(`${sim.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers }, redirect: 'manual' });
}

async function getJson(sim: ComfySim, path: string): Promise<Record<string, unknown>> {
	const res = await fetch(`${sim.url}${path}`);
	expect(res.status).toBe(200);
	return (await res.json()) as Record<string, unknown>;
}

async function submit(sim: ComfySim, prompt: unknown, extra: Record<string, unknown> = {}): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
	const res = await post(sim, '/api/prompt', { prompt, ...extra });
	const text = await res.text();
	return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
}

async function historyOf(sim: ComfySim, promptId: string): Promise<Record<string, Json>> {
	const body = await getJson(sim, `/api/history/${promptId}`);
	return body[promptId] as Record<string, Json>;
}

describe('ComfyUI simulator protocol', () => {
	let sim: ComfySim;
	const listeners: Listener[] = [];
	const listen = async (clientId?: string, options?: WebSocket.ClientOptions) => {
		const listener = await Listener.open(`${sim.wsUrl}/api/ws${clientId ? `?clientId=${clientId}` : ''}`, options);
		listeners.push(listener);
		return listener;
	};

	beforeAll(async () => {
		// --cache-none by default, so identical loader nodes of earlier tests do not hide events;
		// the cache test switches it on.
		sim = await startComfySim({ nodeTimeMs: 1, cache: false });
	});
	afterEach(async () => {
		for (const listener of listeners.splice(0)) listener.close();
		sim.faults = {};
		sim.options.nodeTimes = {};
		await sim.idle();
	});
	afterAll(async () => {
		await sim.stop();
	});

	describe('POST /prompt validation (400 shapes)', () => {
		test('checkpoint not among the server models: value_not_in_list on the loader, top-level details empty', async () => {
			const { status, body } = await submit(sim, txt2imgWorkflow({ ckptName: 'missing.safetensors' }));
			expect(status).toBe(400);
			expect(body.error).toEqual({ type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} });
			expect(body.node_errors).toEqual({
				'4': {
					errors: [{
						type: 'value_not_in_list',
						message: 'Value not in list',
						details: "ckpt_name: 'missing.safetensors' not in ['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors']",
						extra_info: {
							input_name: 'ckpt_name',
							input_config: [['sd_xl_base_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'], { tooltip: 'The name of the checkpoint (model) to load.' }],
							received_value: 'missing.safetensors',
						},
					}],
					dependent_outputs: ['9'],
					class_type: 'CheckpointLoaderSimple',
				},
			});
		});

		test('unknown class_type, missing class_type, no outputs, no prompt', async () => {
			const unknown = await submit(sim, { ...txt2imgWorkflow(), '12': { class_type: 'FancyUpscaler', inputs: {} } });
			expect(unknown.status).toBe(400);
			expect(unknown.body).toEqual({
				error: { type: 'invalid_prompt', message: 'Cannot execute because node FancyUpscaler does not exist.', details: "Node ID '#12'", extra_info: {} },
				node_errors: {},
			});
			const missing = await submit(sim, { '1': { inputs: {} } });
			expect(missing.body.error).toEqual({ type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: "Node ID '#1'", extra_info: {} });
			const graph = txt2imgWorkflow() as Record<string, unknown>;
			delete graph['9'];
			const noOutputs = await submit(sim, graph);
			expect(noOutputs.body).toEqual({ error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: {} });
			const noPrompt = await post(sim, '/api/prompt', { client_id: 'x' });
			expect(noPrompt.status).toBe(400);
			expect(await noPrompt.json()).toEqual({ error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} });
		});

		test('missing required input, out of range, bad link, link to a missing node, malformed JSON', async () => {
			const graph = txt2imgWorkflow({ width: 8 }) as Record<string, Json>;
			delete graph['6'].inputs.text;
			graph['3'].inputs.sampler_name = 'not_a_sampler';
			const { status, body } = await submit(sim, graph);
			expect(status).toBe(400);
			const nodeErrors = body.node_errors as Record<string, Json>;
			expect(nodeErrors['6'].errors).toEqual([{ type: 'required_input_missing', message: 'Required input is missing', details: 'text', extra_info: { input_name: 'text' } }]);
			expect(nodeErrors['5'].errors[0]).toMatchObject({ type: 'value_smaller_than_min', message: 'Value 8 smaller than min of 16', details: 'width', extra_info: { input_name: 'width', received_value: 8 } });
			// More than 20 choices: the list is not echoed.
			expect(nodeErrors['3'].errors[0]).toMatchObject({ type: 'value_not_in_list', details: `sampler_name: 'not_a_sampler' not in (list of length 40)`, extra_info: { input_config: null } });
			for (const id of ['3', '5', '6']) expect(nodeErrors[id].dependent_outputs).toEqual(['9']);

			const badLink = txt2imgWorkflow() as Record<string, Json>;
			badLink['8'].inputs.vae = ['4', 2, 'extra'];
			const bad = await submit(sim, badLink);
			expect((bad.body.node_errors as Json)['8'].errors[0]).toMatchObject({ type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]', details: 'vae' });

			const dangling = txt2imgWorkflow() as Record<string, Json>;
			dangling['9'].inputs.images = ['99', 0];
			const danglingResult = await submit(sim, dangling);
			expect((danglingResult.body.node_errors as Json)['9'].errors[0]).toMatchObject({ type: 'exception_during_validation', message: 'Exception when validating node', details: "'99'", extra_info: { exception_type: 'KeyError' } });
			expect((danglingResult.body.error as Json).details).toBe("Exception when validating node: '99'");

			const malformed = await post(sim, '/api/prompt', '{"prompt": ');
			expect(malformed.status).toBe(500);
		});

		test('one good output and one bad: 200 with node_errors, only the good output runs', async () => {
			const graph = txt2imgWorkflow() as Record<string, Json>;
			graph['20'] = { class_type: 'SaveImage', inputs: { filename_prefix: 'other', images: ['21', 0] } };
			graph['21'] = { class_type: 'VAEDecode', inputs: { samples: ['3', 0] } };
			const { status, body } = await submit(sim, graph);
			expect(status).toBe(200);
			expect((body.node_errors as Json)['21']).toMatchObject({ class_type: 'VAEDecode', dependent_outputs: ['20'] });
			await sim.idle();
			const entry = await historyOf(sim, body.prompt_id as string);
			expect(entry.prompt[4]).toEqual(['9']);
			expect(Object.keys(entry.outputs)).toEqual(['9']);
		});
	});

	describe('a successful run', () => {
		test('WS event order, targeting and the history written before executing{node:null}', async () => {
			const mine = await listen('client-a');
			const other = await listen('client-b');
			expect(mine.messages[0]).toEqual({ type: 'status', data: { status: { exec_info: { queue_remaining: 0 } }, sid: 'client-a' } });
			const promptId = randomUUID();
			const { status, body } = await submit(sim, txt2imgWorkflow({ seed: 101, steps: 3 }), { client_id: 'client-a', prompt_id: promptId });
			expect(status).toBe(200);
			expect(body).toEqual({ prompt_id: promptId, number: expect.any(Number), node_errors: {} });
			await mine.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);

			const sequence = mine.messages
				.filter((m) => m.type !== 'progress_state' && (m.data.prompt_id === promptId || m.type === 'status'))
				.map((m) => (m.type === 'executing' ? `executing:${m.data.node}` : m.type === 'progress' ? `progress:${m.data.value}/${m.data.max}` : m.type === 'executed' ? `executed:${m.data.node}` : m.type));
			expect(sequence).toEqual([
				'status', // initial, with sid
				'status', // put()
				'status', // get()
				'execution_start',
				'execution_cached',
				'executing:4', 'executing:5', 'executing:7', 'executing:6', 'executing:3',
				'progress:1/3', 'progress:2/3', 'progress:3/3',
				'executing:8', 'executing:9', 'executed:9',
				'execution_success',
				'status', // task_done(): history written
				'executing:null',
			]);
			const executed = mine.messages.find((m) => m.type === 'executed') as WsMessage;
			expect(executed.data).toEqual({ node: '9', display_node: '9', output: { images: [{ filename: expect.stringMatching(/^ComfyUI_\d{5}_\.png$/), subfolder: '', type: 'output' }] }, prompt_id: promptId });
			const progressState = mine.messages.find((m) => m.type === 'progress_state') as WsMessage;
			expect(progressState.data.prompt_id).toBe(promptId);

			// The other client gets the status broadcasts and nothing of my prompt.
			await other.waitFor(() => other.messages.filter((m) => m.type === 'status').length >= 4);
			const remaining = other.messages.filter((m) => m.type === 'status').map((m) => (m.data.status as Json).exec_info.queue_remaining);
			expect(remaining).toEqual([0, 1, 1, 0]); // on connect, put(), get(), task_done()
			expect(other.forPrompt(promptId)).toEqual([]);

			const entry = await historyOf(sim, promptId);
			expect(entry.status).toEqual({
				status_str: 'success',
				completed: true,
				messages: [
					['execution_start', { prompt_id: promptId, timestamp: expect.any(Number) }],
					['execution_cached', { nodes: [], prompt_id: promptId, timestamp: expect.any(Number) }],
					['execution_success', { prompt_id: promptId, timestamp: expect.any(Number) }],
				],
			});
			expect(entry.prompt.slice(0, 2)).toEqual([body.number, promptId]);
			expect(entry.prompt[3]).toEqual({ client_id: 'client-a', create_time: expect.any(Number) });
			expect(entry.prompt[4]).toEqual(['9']);
			expect(entry.outputs).toEqual({ '9': executed.data.output });
			expect(entry.meta).toEqual({ '9': { node_id: '9', display_node: '9', parent_node: null, real_node_id: '9' } });
		});

		test('the history write lags execution_success: /history/{id} is {} until executing{node:null}', async () => {
			sim.faults.historyDelayMs = 300;
			const ws = await listen('racer');
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 202, steps: 1 }), { client_id: 'racer' });
			const promptId = body.prompt_id as string;
			await ws.waitFor((m) => m.type === 'execution_success' && m.data.prompt_id === promptId);
			expect(await getJson(sim, `/api/history/${promptId}`)).toEqual({});
			expect(((await getJson(sim, '/api/queue')).queue_running as unknown[][])[0][1]).toBe(promptId);
			await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);
			expect((await historyOf(sim, promptId)).status.status_str).toBe('success');
		});

		test('without client_id: no execution events at all, progress is broadcast', async () => {
			const watcher = await listen('watcher');
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 303, steps: 2 }));
			await sim.idle();
			const types = watcher.forPrompt(body.prompt_id as string).map((m) => m.type);
			expect(types).toContain('progress');
			expect(types).not.toContain('execution_start');
			expect(types).not.toContain('executing');
			expect(types).not.toContain('executed');
			expect(types).not.toContain('execution_success');
		});

		test('/view serves a real PNG of the requested size with the prompt embedded; batch numbering', async () => {
			const { body } = await submit(sim, txt2imgWorkflow({ width: 640, height: 384, batchSize: 2, seed: 404, filenamePrefix: 'n8n/run1/img' }));
			await sim.idle();
			const images = (await historyOf(sim, body.prompt_id as string)).outputs['9'].images as Array<Record<string, string>>;
			expect(images).toEqual([
				{ filename: 'img_00001_.png', subfolder: 'n8n/run1', type: 'output' },
				{ filename: 'img_00002_.png', subfolder: 'n8n/run1', type: 'output' },
			]);
			const res = await fetch(`${sim.url}/api/view?${new URLSearchParams(images[1])}`);
			expect(res.status).toBe(200);
			expect(res.headers.get('content-type')).toBe('image/png');
			expect(res.headers.get('content-disposition')).toBe('filename="img_00002_.png"');
			const png = Buffer.from(await res.arrayBuffer());
			expect(readPngSize(png)).toEqual({ width: 640, height: 384 });
			expect(JSON.parse(readPngText(png).prompt)['5'].inputs.width).toBe(640);

			// The counter continues per prefix; the same prefix in another run gets 00003.
			const again = await submit(sim, txt2imgWorkflow({ width: 64, height: 64, seed: 405, filenamePrefix: 'n8n/run1/img' }));
			await sim.idle();
			expect((await historyOf(sim, again.body.prompt_id as string)).outputs['9'].images[0].filename).toBe('img_00003_.png');
		});

		test('/view refusals: "..", leading "/", subfolder traversal, unknown type, missing file', async () => {
			const view = (query: Record<string, string>) => fetch(`${sim.url}/view?${new URLSearchParams(query)}`).then((r) => r.status);
			expect(await view({ filename: '../secret.png' })).toBe(400);
			expect(await view({ filename: '/etc/passwd' })).toBe(400);
			expect(await view({ filename: 'x.png', type: 'models' })).toBe(400);
			expect(await view({ filename: 'x.png', subfolder: '../../etc' })).toBe(403);
			expect(await view({ filename: 'nope.png' })).toBe(404);
			expect(await fetch(`${sim.url}/view`).then((r) => r.status)).toBe(404);
		});

		test('PreviewImage writes temp files; a resubmitted identical graph is served from cache', async () => {
			sim.options.cache = true;
			const graph = txt2imgWorkflow({ seed: 505, steps: 1 }) as Record<string, Json>;
			graph['9'] = { class_type: 'PreviewImage', inputs: { images: ['8', 0] } };
			const ws = await listen('cache-client');
			const first = await submit(sim, graph, { client_id: 'cache-client' });
			await sim.idle();
			const firstEntry = await historyOf(sim, first.body.prompt_id as string);
			expect(firstEntry.outputs['9'].images[0]).toEqual({ filename: expect.stringMatching(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/), subfolder: '', type: 'temp' });

			const second = await submit(sim, graph, { client_id: 'cache-client' });
			await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === second.body.prompt_id);
			const secondMessages = ws.forPrompt(second.body.prompt_id as string);
			const cached = secondMessages.find((m) => m.type === 'execution_cached') as WsMessage;
			expect([...(cached.data.nodes as string[])].sort()).toEqual(['3', '4', '5', '6', '7', '8', '9']);
			expect(secondMessages.filter((m) => m.type === 'executing' && m.data.node !== null)).toEqual([]);
			expect(secondMessages.find((m) => m.type === 'executed')?.data.output).toEqual(firstEntry.outputs['9']);
			expect((await historyOf(sim, second.body.prompt_id as string)).outputs).toEqual(firstEntry.outputs);
			sim.options.cache = false;
		});

		test('text output and a big lazily generated video streamed through /view with Range', async () => {
			const text = await submit(sim, textWorkflow('a caption'));
			await sim.idle();
			expect((await historyOf(sim, text.body.prompt_id as string)).outputs).toEqual({ '2': { text: ['a caption'] } });

			sim.faults.outputSizeBytes = 8 * 1024 * 1024 + 123;
			const video = await submit(sim, videoWorkflow());
			await sim.idle();
			const output = (await historyOf(sim, video.body.prompt_id as string)).outputs['11'];
			expect(output).toEqual({ images: [{ filename: 'ComfyUI_00001_.mp4', subfolder: 'video', type: 'output' }], animated: [true] });
			const query = new URLSearchParams(output.images[0]);
			const res = await fetch(`${sim.url}/api/view?${query}`);
			expect(res.headers.get('content-type')).toBe('video/mp4');
			const bytes = Buffer.from(await res.arrayBuffer());
			expect(bytes.length).toBe(8 * 1024 * 1024 + 123);
			expect(bytes.toString('latin1', 4, 8)).toBe('ftyp');
			const { createHash } = await import('node:crypto');
			expect(createHash('sha256').update(bytes).digest('hex')).toBe(await sim.fileSha256(output.images[0]));
			const partial = await fetch(`${sim.url}/api/view?${query}`, { headers: { Range: 'bytes=100-199' } });
			expect(partial.status).toBe(206);
			expect(Buffer.from(await partial.arrayBuffer())).toEqual(bytes.subarray(100, 200));

			// Throttled: slower, still complete.
			sim.addFile({ filename: 'slow.bin', type: 'temp' }, { sizeBytes: 50_000 });
			sim.faults.downloadBytesPerSecond = 500_000;
			const slow = await fetch(`${sim.url}/api/view?filename=slow.bin&type=temp`);
			expect(slow.headers.get('content-type')).toBe('application/octet-stream');
			expect(Buffer.from(await slow.arrayBuffer()).length).toBe(50_000);
		});
	});

	describe('failures', () => {
		test('execution_error payload, history status error, then status and executing{node:null}', async () => {
			sim.faults.executionErrorAtNode = '3';
			sim.faults.executionErrorType = 'RuntimeError';
			sim.faults.executionErrorMessage = 'mat1 and mat2 shapes cannot be multiplied';
			const ws = await listen('err-client');
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 606 }), { client_id: 'err-client' });
			const promptId = body.prompt_id as string;
			await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);
			const types = ws.forPrompt(promptId).filter((m) => m.type !== 'progress_state').map((m) => m.type);
			expect(types.slice(-2)).toEqual(['execution_error', 'executing']);
			expect(types).not.toContain('execution_success');
			const error = ws.forPrompt(promptId).find((m) => m.type === 'execution_error') as WsMessage;
			expect(error.data).toEqual({
				prompt_id: promptId,
				node_id: '3',
				node_type: 'KSampler',
				executed: ['4', '5', '7', '6'],
				exception_message: 'mat1 and mat2 shapes cannot be multiplied\n',
				exception_type: 'RuntimeError',
				traceback: expect.any(Array),
				current_inputs: expect.objectContaining({ seed: [606], sampler_name: ['euler'] }),
				current_outputs: expect.arrayContaining(['4', '5', '6', '7']),
				timestamp: expect.any(Number),
			});
			const entry = await historyOf(sim, promptId);
			expect(entry.status.status_str).toBe('error');
			expect(entry.status.completed).toBe(false);
			expect(entry.status.messages.map((m: [string]) => m[0])).toEqual(['execution_start', 'execution_cached', 'execution_error']);
			expect(entry.outputs).toEqual({});
		});

		test('a checkpoint that vanished after validation fails at run time with FileNotFoundError', async () => {
			sim.faults.checkpointsMissingAtRun = ['sd_xl_base_1.0.safetensors'];
			const ws = await listen('fnf');
			const { status, body } = await submit(sim, txt2imgWorkflow({ ckptName: 'sd_xl_base_1.0.safetensors', seed: 607 }), { client_id: 'fnf' });
			expect(status).toBe(200);
			const error = await ws.waitFor((m) => m.type === 'execution_error' && m.data.prompt_id === body.prompt_id);
			expect(error.data).toMatchObject({ node_id: '4', exception_type: 'FileNotFoundError', exception_message: "Model in folder 'checkpoints' with filename 'sd_xl_base_1.0.safetensors' not found.\n" });
		});

		test('OOM at a node: torch.OutOfMemoryError with the tips appended', async () => {
			sim.faults.oomAtNode = '8';
			const ws = await listen('oom');
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 608, steps: 1 }), { client_id: 'oom' });
			const error = await ws.waitFor((m) => m.type === 'execution_error' && m.data.prompt_id === body.prompt_id);
			expect(error.data).toMatchObject({ node_id: '8', node_type: 'VAEDecode', exception_type: 'torch.OutOfMemoryError' });
			expect(error.data.exception_message).toMatch(/out of memory[\s\S]*\nThis error means you ran out of memory on your GPU\./);
		});

		test('interrupt: a foreign prompt_id is a no-op, the running prompt_id stops the sampler at the next step', async () => {
			sim.setNodeTime('KSampler', 4000);
			const ws = await listen('int-client');
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 707, steps: 40 }), { client_id: 'int-client' });
			const promptId = body.prompt_id as string;
			await ws.waitFor((m) => m.type === 'progress' && m.data.prompt_id === promptId);
			const noop = await post(sim, '/api/interrupt', { prompt_id: 'someone-else' });
			expect(noop.status).toBe(200);
			expect(await noop.text()).toBe('');
			expect(sim.interrupts.at(-1)).toMatchObject({ promptId: 'someone-else', applied: false, runningPromptId: promptId });
			await post(sim, '/api/interrupt', { prompt_id: promptId });
			const interrupted = await ws.waitFor((m) => m.type === 'execution_interrupted' && m.data.prompt_id === promptId);
			expect(interrupted.data).toEqual({ prompt_id: promptId, node_id: '3', node_type: 'KSampler', executed: ['4', '5', '7', '6'], timestamp: expect.any(Number) });
			await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);
			const entry = await historyOf(sim, promptId);
			expect(entry.status).toMatchObject({ status_str: 'error', completed: false });
			expect(entry.status.messages.at(-1)[0]).toBe('execution_interrupted');
		});

		test('queue: number/front ordering, /queue tuple shape, delete only removes pending items', async () => {
			sim.setNodeTime('KSampler', 600);
			const blocker = await submit(sim, txt2imgWorkflow({ seed: 801, steps: 2 }));
			const late = await submit(sim, textWorkflow('late'));
			const front = await submit(sim, textWorkflow('front'), { front: true });
			const explicit = await submit(sim, textWorkflow('explicit'), { number: 0.5 });
			const doomed = await submit(sim, textWorkflow('doomed'), { number: 1e9 });
			const explicitRaw = await post(sim, '/api/prompt', { prompt: textWorkflow('big'), number: 1e8 });
			const explicitText = await explicitRaw.text();
			// float(number) is echoed as a Python float.
			expect(explicitText).toMatch(/"number": 100000000\.0/);
			const seven = JSON.parse(explicitText) as { prompt_id: string };

			const queue = await getJson(sim, '/api/queue');
			const running = queue.queue_running as unknown[][];
			const pendingTuples = queue.queue_pending as unknown[][];
			expect(running).toHaveLength(1);
			expect(running[0]).toHaveLength(5);
			expect(running[0][1]).toBe(blocker.body.prompt_id);
			expect(pendingTuples.map((t) => t[1]).sort()).toEqual([late, front, explicit, doomed].map((s) => s.body.prompt_id).concat(seven.prompt_id).sort());
			expect((await getJson(sim, '/api/prompt')).exec_info).toEqual({ queue_remaining: 6 });

			await post(sim, '/api/queue', { delete: [doomed.body.prompt_id, blocker.body.prompt_id] });
			expect(sim.deletedFromQueue).toContain(doomed.body.prompt_id);
			expect(sim.queue().running).toEqual([blocker.body.prompt_id]);
			await sim.idle();
			const order = Object.keys(await getJson(sim, '/api/history?max_items=5'));
			expect(order).toEqual([blocker, front, explicit, late].map((s) => s.body.prompt_id).concat(seven.prompt_id));
			expect(await getJson(sim, `/api/history/${doomed.body.prompt_id}`)).toEqual({});
			expect(front.body.number).toBeLessThan(0);
		});

		test('a dropped socket is not replayed; reconnecting gets a bare executing{node}; the result is in /history', async () => {
			sim.faults.dropWsAfterEvents = 6;
			sim.setNodeTime('KSampler', 400);
			const ws = await listen('dropper');
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 909, steps: 5 }), { client_id: 'dropper' });
			expect(await ws.waitForClose()).toBe(1006);
			const seenBefore = ws.forPrompt(body.prompt_id as string).length;
			const again = await listen('dropper');
			expect(again.messages[1]).toEqual({ type: 'executing', data: { node: expect.any(String) } });
			await sim.idle();
			expect(again.messages.filter((m) => m.type === 'execution_start')).toEqual([]);
			expect(seenBefore).toBeGreaterThan(0);
			expect((await historyOf(sim, body.prompt_id as string)).status.status_str).toBe('success');
		});

		test('a stalled socket stays open and silent, pings still answered unless stallWsPongs', async () => {
			const ws = await listen('staller');
			sim.faults.stallWs = true;
			await submit(sim, textWorkflow('stall'), { client_id: 'staller' });
			await sim.idle();
			expect(ws.ws.readyState).toBe(WebSocket.OPEN);
			expect(ws.messages.filter((m) => m.type !== 'status' || !('sid' in m.data))).toEqual([]);
			const pong = (timeout: number) => new Promise<boolean>((resolve) => {
				ws.ws.once('pong', () => resolve(true));
				ws.ws.ping();
				setTimeout(() => resolve(false), timeout);
			});
			expect(await pong(1000)).toBe(true);
			sim.faults.stallWsPongs = true;
			expect(await pong(300)).toBe(false);

			// Only the sockets open at the time: a reconnect is healthy again.
			sim.faults = {};
			sim.stallConnectedSockets({ answerPings: false });
			const fresh = await listen('staller-2');
			await submit(sim, textWorkflow('after stall'), { client_id: 'staller-2' });
			await fresh.waitFor((m) => m.type === 'executing' && m.data.node === null);
			expect(await pong(300)).toBe(false);
		});

		test('submit errors from a proxy: 503 not queued; 500 after queueing (the lost response)', async () => {
			sim.faults.submitStatus = 503;
			sim.faults.submitStatusCount = 1;
			const promptId = randomUUID();
			const refused = await post(sim, '/api/prompt', { prompt: textWorkflow(), prompt_id: promptId });
			expect(refused.status).toBe(503);
			expect(sim.faults.submitStatus).toBeUndefined();
			expect(sim.submitted.some((s) => s.promptId === promptId)).toBe(false);

			sim.faults.submitStatus = 500;
			sim.faults.submitFailAfterQueue = true;
			sim.faults.submitStatusCount = 1;
			const lost = await post(sim, '/api/prompt', { prompt: textWorkflow(), prompt_id: promptId });
			expect(lost.status).toBe(500);
			await sim.idle();
			expect((await historyOf(sim, promptId)).status.status_str).toBe('success');
		});

		test('restart forgets queue, history and the number counter, keeps output files, refuses during downtime', async () => {
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 1001, steps: 1, filenamePrefix: 'keep/me' }));
			await sim.idle();
			const ref = (await historyOf(sim, body.prompt_id as string)).outputs['9'].images[0];
			const ws = await listen('restart-client');
			const restarting = sim.restart({ downtimeMs: 300 });
			expect(await ws.waitForClose()).toBe(1006);
			await new Promise((resolve) => setTimeout(resolve, 100));
			await expect(fetch(`${sim.url}/api/prompt`)).rejects.toThrow();
			await restarting;
			expect(await getJson(sim, '/api/history')).toEqual({});
			expect(await getJson(sim, `/api/history/${body.prompt_id}`)).toEqual({});
			expect(sim.fileExists(ref)).toBe(true);
			const next = await submit(sim, textWorkflow());
			expect(next.body.number).toBe(0);
		});

		test('restart in the middle of a run loses the prompt entirely', async () => {
			sim.faults.restartAtNode = '3';
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 1002 }));
			for (let i = 0; i < 100 && sim.faults.restartAtNode; i++) await new Promise((resolve) => setTimeout(resolve, 20));
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(await getJson(sim, `/api/history/${body.prompt_id}`)).toEqual({});
			expect(await getJson(sim, '/api/queue')).toEqual({ queue_running: [], queue_pending: [] });
		});
	});

	describe('routes, uploads, auth', () => {
		test('every route answers under /api too; /api/jobs only with its literal path', async () => {
			for (const path of ['/prompt', '/queue', '/history', '/system_stats', '/object_info', '/features', '/embeddings', '/models/checkpoints']) {
				expect((await fetch(`${sim.url}${path}`)).status).toBe(200);
				expect((await fetch(`${sim.url}/api${path}`)).status).toBe(200);
			}
			expect((await fetch(`${sim.url}/api/jobs`)).status).toBe(200);
			expect((await fetch(`${sim.url}/api/api/jobs`)).status).toBe(200);
			expect((await fetch(`${sim.url}/jobs`)).status).toBe(404);
			const ws = await Listener.open(`${sim.wsUrl}/ws`);
			listeners.push(ws);
			expect(ws.messages[0].data.sid).toMatch(/^[0-9a-f]{32}$/);
			const info = (await getJson(sim, '/api/object_info/CheckpointLoaderSimple')) as Json;
			expect(info.CheckpointLoaderSimple.input.required.ckpt_name[0]).toEqual(sim.options.checkpoints);
			expect(await getJson(sim, '/api/object_info/Nope')).toEqual({});
			const stats = (await getJson(sim, '/api/system_stats')) as Json;
			expect(stats.system.comfyui_version).toBe('0.8.0');
			expect(stats.devices).toHaveLength(1);
		});

		test('Origin that does not match a loopback Host is refused; 413 above the upload limit', async () => {
			const refused = await fetch(`${sim.url}/api/prompt`, { headers: { Origin: 'http://evil.example' } });
			expect(refused.status).toBe(403);
			const sameOrigin = await fetch(`${sim.url}/api/prompt`, { headers: { Origin: sim.url } });
			expect(sameOrigin.status).toBe(200);
			const previous = sim.options.maxUploadBytes;
			sim.options.maxUploadBytes = 1024;
			try {
				const big = await post(sim, '/api/prompt', { prompt: txt2imgWorkflow({ positive: 'x'.repeat(4096) }) });
				expect(big.status).toBe(413);
			} finally {
				sim.options.maxUploadBytes = previous;
			}
		});

		test('upload: response shape, rename on conflict, same bytes deduplicated, LoadImage validation', async () => {
			const upload = async (bytes: Buffer, name: string, fields: Record<string, string> = {}) => {
				const form = new FormData();
				form.append('image', new Blob([bytes], { type: 'image/png' }), name);
				for (const [key, value] of Object.entries(fields)) form.append(key, value);
				const res = await fetch(`${sim.url}/api/upload/image`, { method: 'POST', body: form });
				return { status: res.status, body: res.status === 200 ? await res.json() : null };
			};
			const { encodeSolidPng } = await import('../dev/comfyui-sim');
			const red = encodeSolidPng(32, 16, { r: 255, g: 0, b: 0 });
			const blue = encodeSolidPng(32, 16, { r: 0, g: 0, b: 255 });
			expect(await upload(red, 'photo.png')).toEqual({ status: 200, body: { name: 'photo.png', subfolder: '', type: 'input' } });
			expect(await upload(red, 'photo.png')).toEqual({ status: 200, body: { name: 'photo.png', subfolder: '', type: 'input' } });
			expect(await upload(blue, 'photo.png')).toEqual({ status: 200, body: { name: 'photo (1).png', subfolder: '', type: 'input' } });
			expect(await upload(blue, 'photo.png', { overwrite: 'true' })).toEqual({ status: 200, body: { name: 'photo.png', subfolder: '', type: 'input' } });
			expect((await upload(red, 'x.png', { subfolder: '../../etc' })).status).toBe(400);
			expect((await upload(red, 'x.png', { type: 'models' })).status).toBe(500);

			const graph = {
				'1': { class_type: 'LoadImage', inputs: { image: 'photo (1).png' } },
				'2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'loaded' } },
			};
			const ok = await submit(sim, graph);
			expect(ok.status).toBe(200);
			await sim.idle();
			const out = (await historyOf(sim, ok.body.prompt_id as string)).outputs['2'].images[0];
			const png = Buffer.from(await (await fetch(`${sim.url}/api/view?${new URLSearchParams(out)}`)).arrayBuffer());
			expect(readPngSize(png)).toEqual({ width: 32, height: 16 });

			const missing = await submit(sim, { ...graph, '1': { class_type: 'LoadImage', inputs: { image: 'nope.png' } } });
			expect(missing.status).toBe(400);
			expect((missing.body.node_errors as Json)['1'].errors[0]).toMatchObject({ type: 'custom_validation_failed', message: 'Custom validation failed for node', details: 'image - Invalid image file: nope.png' });
		});

		test('partial_execution_targets, sensitive keys kept out of queue and history, duplicate prompt_id', async () => {
			const graph = txt2imgWorkflow({ seed: 1201, steps: 1 }) as Record<string, Json>;
			graph['10'] = { class_type: 'PreviewImage', inputs: { images: ['8', 0] } };
			const partial = await submit(sim, graph, { partial_execution_targets: ['10'], extra_data: { api_key_comfy_org: 'comfyui-secret' } });
			expect(partial.status).toBe(200);
			expect(sim.submitted.at(-1)?.sensitive).toEqual({ api_key_comfy_org: 'comfyui-secret' });
			await sim.idle();
			const entry = await historyOf(sim, partial.body.prompt_id as string);
			expect(entry.prompt[4]).toEqual(['10']);
			expect(Object.keys(entry.outputs)).toEqual(['10']);
			expect(JSON.stringify(entry)).not.toContain('comfyui-secret');
			const none = await submit(sim, graph, { partial_execution_targets: ['3'] });
			expect((none.body.error as Json).type).toBe('prompt_no_outputs');

			// No uniqueness check: both run, the history entry is overwritten by the last one.
			const duplicateId = randomUUID();
			expect((await submit(sim, textWorkflow('first'), { prompt_id: duplicateId })).status).toBe(200);
			expect((await submit(sim, textWorkflow('second'), { prompt_id: duplicateId })).status).toBe(200);
			await sim.idle();
			expect((await historyOf(sim, duplicateId)).outputs['2'].text).toEqual(['second']);
		});

		test('/api/jobs: pending, in_progress, completed, failed, unknown → 404', async () => {
			sim.setNodeTime('KSampler', 300);
			const running = await submit(sim, txt2imgWorkflow({ seed: 1301, steps: 2 }));
			const pending = await submit(sim, textWorkflow('pending job'));
			await new Promise((resolve) => setTimeout(resolve, 50));
			expect(await getJson(sim, `/api/jobs/${running.body.prompt_id}`)).toMatchObject({ id: running.body.prompt_id, status: 'in_progress', outputs_count: 0 });
			expect(await getJson(sim, `/api/jobs/${pending.body.prompt_id}`)).toMatchObject({ status: 'pending', priority: pending.body.number });
			await sim.idle();
			const done = await getJson(sim, `/api/jobs/${running.body.prompt_id}`);
			expect(done).toMatchObject({ status: 'completed', outputs_count: 1, preview_output: { nodeId: '9', mediaType: 'images', type: 'output' } });
			expect(done.execution_status).toMatchObject({ status_str: 'success' });
			sim.faults.executionErrorAtNode = '1';
			const failed = await submit(sim, textWorkflow('failing'));
			await sim.idle();
			expect(await getJson(sim, `/api/jobs/${failed.body.prompt_id}`)).toMatchObject({ status: 'failed', execution_error: { node_id: '1' } });
			const unknown = await fetch(`${sim.url}/api/jobs/${randomUUID()}`);
			expect(unknown.status).toBe(404);
			expect(await unknown.json()).toEqual({ error: 'Job not found' });
			const list = await getJson(sim, '/api/jobs?status=failed&limit=1');
			expect(list.jobs).toEqual([expect.objectContaining({ id: failed.body.prompt_id })]);
			expect((await fetch(`${sim.url}/api/jobs?status=bogus`)).status).toBe(400);
		});

		test('history keeps MAXIMUM_HISTORY_SIZE + 1 entries, evicting the oldest', async () => {
			const small = await startComfySim({ nodeTimeMs: 0, maxHistorySize: 2 });
			try {
				const ids: string[] = [];
				for (const text of ['a', 'b', 'c', 'd']) {
					const res = await post(small, '/api/prompt', { prompt: textWorkflow(text) });
					ids.push(((await res.json()) as { prompt_id: string }).prompt_id);
					await small.idle();
				}
				expect(Object.keys(small.history())).toEqual(ids.slice(1));
			} finally {
				await small.stop();
			}
		});

		test('history: max_items, POST delete/clear with empty 200 bodies', async () => {
			const a = await submit(sim, textWorkflow('a'));
			const b = await submit(sim, textWorkflow('b'));
			await sim.idle();
			expect(Object.keys(await getJson(sim, '/api/history?max_items=2'))).toEqual([a.body.prompt_id, b.body.prompt_id]);
			const deleted = await post(sim, '/api/history', { delete: [a.body.prompt_id] });
			expect(deleted.status).toBe(200);
			expect(await deleted.text()).toBe('');
			expect(await getJson(sim, `/api/history/${a.body.prompt_id}`)).toEqual({});
			await post(sim, '/api/history', { clear: true });
			expect(await getJson(sim, '/api/history')).toEqual({});
		});

		test('auth in front: bearer, basic, query token, ComfyUI-Login redirect (HTTP and WS)', async () => {
			const status = (path: string, headers: Record<string, string> = {}) => fetch(`${sim.url}${path}`, { headers, redirect: 'manual' }).then((r) => r.status);
			sim.faults.auth = { type: 'bearer', token: 's3cret' };
			expect(await status('/api/system_stats')).toBe(401);
			expect(await status('/api/system_stats', { Authorization: 'Bearer s3cret' })).toBe(200);
			await expect(Listener.open(`${sim.wsUrl}/api/ws?clientId=a1`)).rejects.toThrow(/401/);
			const authed = await Listener.open(`${sim.wsUrl}/api/ws?clientId=a1`, { headers: { Authorization: 'Bearer s3cret' } });
			listeners.push(authed);

			sim.faults.auth = { type: 'basic', user: 'u', password: 'p' };
			const basic = await fetch(`${sim.url}/api/system_stats`);
			expect(basic.status).toBe(401);
			expect(basic.headers.get('www-authenticate')).toBe('Basic realm="ComfyUI"');
			expect(await status('/api/system_stats', { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` })).toBe(200);

			sim.faults.auth = { type: 'query', value: 'qtok' };
			expect(await status('/api/system_stats')).toBe(401);
			expect(await status('/api/system_stats?token=qtok')).toBe(200);

			sim.faults.auth = { type: 'redirect-login', token: 'hash' };
			const redirect = await fetch(`${sim.url}/api/prompt`, { redirect: 'manual' });
			expect(redirect.status).toBe(302);
			expect(redirect.headers.get('location')).toBe('/login');
			expect(await status('/api/prompt?token=hash')).toBe(200);
			expect(await status('/api/prompt', { Authorization: 'Bearer hash' })).toBe(200);
			await expect(Listener.open(`${sim.wsUrl}/api/ws`)).rejects.toThrow(/302/);
		});

		test('feature_flags handshake and binary previews (type 4 with metadata, legacy type 1)', async () => {
			const modern = await listen('modern');
			modern.ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
			const flags = await modern.waitFor((m) => m.type === 'feature_flags');
			expect(flags.data).toMatchObject({ supports_preview_metadata: true, max_upload_size: sim.options.maxUploadBytes });
			const { body } = await submit(sim, txt2imgWorkflow({ seed: 1101, steps: 2 }), { client_id: 'modern', extra_data: { preview_method: 'auto' } });
			await modern.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === body.prompt_id);
			expect(modern.binary).toHaveLength(2);
			const frame = modern.binary[0];
			expect(frame.readUInt32BE(0)).toBe(4);
			const metadataLength = frame.readUInt32BE(4);
			expect(JSON.parse(frame.toString('utf8', 8, 8 + metadataLength))).toEqual({ node_id: '3', prompt_id: body.prompt_id, display_node_id: '3', parent_node_id: null, real_node_id: '3', image_type: 'image/jpeg' });
			expect(frame.subarray(8 + metadataLength, 8 + metadataLength + 2)).toEqual(Buffer.from([0xff, 0xd8]));

			const legacy = await listen('legacy');
			const graph = txt2imgWorkflow({ seed: 1102, steps: 1, width: 64, height: 32 }) as Record<string, Json>;
			graph['9'] = { class_type: 'SaveImageWebsocket', inputs: { images: ['8', 0] } };
			const ws = await submit(sim, graph, { client_id: 'legacy' });
			await legacy.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === ws.body.prompt_id);
			const png = legacy.binary.at(-1) as Buffer;
			expect([png.readUInt32BE(0), png.readUInt32BE(4)]).toEqual([1, 2]);
			expect(readPngSize(png.subarray(8))).toEqual({ width: 64, height: 32 });
			expect((await historyOf(sim, ws.body.prompt_id as string)).outputs).toEqual({});
		});
	});
});
