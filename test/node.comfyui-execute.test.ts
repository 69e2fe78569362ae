/**
 * ComfyUI Execute node and ComfyUI API credential, run through n8n-core's real WorkflowExecute
 * against the ComfyUI simulator and a real Postgres.
 */
import { createHash, randomUUID } from 'node:crypto';

import type {
	ICredentialDataDecryptedObject,
	ICredentialTestFunctions,
	ILoadOptionsFunctions,
	INode,
	INodeExecutionData,
} from 'n8n-workflow';
import type { Pool } from 'pg';

import { ComfyUiApi } from '../credentials/ComfyUiApi.credentials';
import { closeAllComfyConnections } from '../lib/comfyui';
import { getPool } from '../lib/db/pool';
import { createTemplate } from '../lib/templates/manage';
import { ComfyUiExecute } from '../nodes/ComfyUiExecute/ComfyUiExecute.node';
import { encodeSolidPng, readPngSize, startComfySim, txt2imgWorkflow, type ComfySim } from '../dev/comfyui-sim';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postgresCredential, runWorkflow, startWorkflow, type RunResult, type WorkflowFixture } from '../dev/n8n-harness';

const NODE_TYPE = 'n8n-nodes-promptlab.comfyUiExecute';
const node = new ComfyUiExecute();
const nodeTypes = { [NODE_TYPE]: node };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test assertions on free-form JSON

/** Binary data of an output item, as bytes (default binary mode keeps it base64 in the item). */
function bytesOf(item: INodeExecutionData, property = 'data'): Buffer {
	const binary = item.binary?.[property];
	if (!binary) throw new Error(`item has no binary "${property}"`);
	return Buffer.from(binary.data, 'base64');
}

function sha256(data: Buffer): string {
	return createHash('sha256').update(data).digest('hex');
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined && value !== null && value !== false) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 20));
	}
}

describe('ComfyUI Execute node', () => {
	let db: TestDatabase;
	let pool: Pool;
	let sim: ComfySim;
	let simB: ComfySim;
	const pg = () => postgresCredential(db.config);
	const comfyCredential = (extra: ICredentialDataDecryptedObject = {}): ICredentialDataDecryptedObject => ({
		baseUrl: sim.url,
		authentication: 'none',
		...extra,
	});

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		sim = await startComfySim({ nodeTimeMs: 2 });
		simB = await startComfySim({ nodeTimeMs: 2, checkpoints: ['v1-5-pruned-emaonly.safetensors'] });
		await createTemplate(pool, {
			name: 'fox',
			kind: 'image',
			firstVersion: {
				positivePrompt: 'a {{animal}} in the snow',
				negativePrompt: 'blurry',
				workflow: txt2imgWorkflow({ positive: '{{positive_prompt}}', steps: 4 }),
				variables: [{ name: 'animal', type: 'string' }],
			},
		});
	});

	afterEach(async () => {
		sim.faults = {};
		sim.options.nodeTimes = {};
		await Promise.all([sim.idle(), simB.idle()]);
	});

	afterAll(async () => {
		await closeAllComfyConnections();
		await Promise.all([sim?.stop(), simB?.stop()]);
		await db?.drop();
	});

	function workflowWith(
		nodes: Array<{ name: string; parameters: Record<string, unknown>; onError?: string; postgres?: boolean }>,
	): WorkflowFixture {
		const all: INode[] = [
			{ id: 't', name: 'Manual Trigger', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		];
		const connections: WorkflowFixture['connections'] = {};
		let previous = 'Manual Trigger';
		nodes.forEach((n, index) => {
			all.push({
				id: `n${index}`,
				name: n.name,
				type: NODE_TYPE,
				typeVersion: 1,
				position: [200 * (index + 1), 0],
				parameters: { resource: 'comfyui', ...n.parameters } as INode['parameters'],
				credentials: {
					comfyUiApi: { id: '1', name: 'comfy' },
					...(n.postgres === false ? {} : { promptLabPostgres: { id: '2', name: 'pg' } }),
				},
				...(n.onError ? { onError: n.onError as INode['onError'] } : {}),
			});
			connections[previous] = { main: [[{ node: n.name, type: 'main' as never, index: 0 }]] };
			previous = n.name;
		});
		return { nodes: all, connections };
	}

	function run(
		parameters: Record<string, unknown>,
		opts: { input?: INodeExecutionData[]; postgres?: boolean; onError?: string; comfy?: ICredentialDataDecryptedObject } = {},
	): Promise<RunResult> {
		const credentials: Record<string, ICredentialDataDecryptedObject> = { comfyUiApi: opts.comfy ?? comfyCredential() };
		if (opts.postgres !== false) credentials.promptLabPostgres = pg();
		return runWorkflow({
			workflow: workflowWith([{ name: 'ComfyUI', parameters, onError: opts.onError, postgres: opts.postgres }]),
			nodeTypes,
			credentials,
			input: opts.input,
		});
	}

	const fromTemplate = (extra: Record<string, unknown> = {}) => ({
		operation: 'generate',
		source: 'template',
		template: { __rl: true, mode: 'name', value: 'fox' },
		values: '{"animal":"fox"}',
		...extra,
	});

	const rawWorkflow = (workflow: unknown, extra: Record<string, unknown> = {}) => ({
		operation: 'generate',
		source: 'workflow',
		workflow: typeof workflow === 'string' ? workflow : JSON.stringify(workflow),
		...extra,
	});

	async function statsOf(templateName: string): Promise<Json | undefined> {
		const { rows } = await pool.query(
			`SELECT s.* FROM template_stats s JOIN templates t ON t.id = s.template_id WHERE t.name = $1`,
			[templateName],
		);
		return rows[0];
	}

	async function executionRow(id: string): Promise<Json> {
		const { rows } = await pool.query('SELECT * FROM executions WHERE id = $1', [id]);
		return rows[0];
	}

	test('from a template: PNG items of the requested size, metadata, and the execution recorded with its assets', async () => {
		const { output, error } = await run(
			fromTemplate({ overrides: { width: 320, height: 192, seed: 42, randomSeed: false, steps: 3 } }),
		);
		expect(error).toBeUndefined();
		const items = output('ComfyUI');
		expect(items).toHaveLength(1);
		const [item] = items;
		const png = bytesOf(item);
		expect(readPngSize(png)).toEqual({ width: 320, height: 192 });
		expect(item.binary?.data.mimeType).toBe('image/png');
		expect(item.pairedItem).toEqual({ item: 0 });

		const json = item.json as Json;
		expect(json.executionId).toMatch(/^[0-9a-f-]{36}$/);
		expect(json.promptId).toBe(json.executionId);
		expect(json).toMatchObject({
			status: 'succeeded',
			server: sim.url,
			nodeId: '9',
			subfolder: `promptlab/${json.executionId}`,
			type: 'output',
			mimeType: 'image/png',
			bytes: png.length,
			sha256: sha256(png),
			seed: 42,
			templateName: 'fox',
			version: 1,
			cached: false,
			positivePrompt: 'a fox in the snow',
			recorded: true,
		});
		expect(json.durationMs).toBeGreaterThanOrEqual(0);
		// What ComfyUI ran: the rendered prompt and the overrides.
		const submitted = sim.submitted.find((p) => p.promptId === json.executionId);
		const prompt = submitted?.prompt as Json;
		expect(prompt['6'].inputs.text).toBe('a fox in the snow');
		expect(prompt['5'].inputs).toMatchObject({ width: 320, height: 192 });
		expect(prompt['3'].inputs).toMatchObject({ seed: 42, steps: 3 });

		const row = await executionRow(json.executionId);
		expect(row).toMatchObject({ status: 'succeeded', server: sim.url, prompt_id: json.executionId, seed: '42' });
		expect(row.rendered_prompt).toEqual({ positive: 'a fox in the snow', negative: 'blurry' });
		expect(row.variables).toEqual({ animal: 'fox' });
		expect(row.duration_ms).not.toBeNull();
		const assets = await pool.query('SELECT * FROM generated_assets WHERE execution_id = $1', [json.executionId]);
		expect(assets.rows).toHaveLength(1);
		expect(assets.rows[0]).toMatchObject({ node_id: '9', filename: json.filename, sha256: sha256(png), bytes: String(png.length) });
		expect(await statsOf('fox')).toMatchObject({ executions: '1', succeeded: '1' });
	});

	test('raw workflow without the Postgres credential: all files on one item, nothing recorded', async () => {
		const before = await pool.query('SELECT count(*)::int AS n FROM executions');
		const { output, error } = await run(
			rawWorkflow(txt2imgWorkflow({ width: 64, height: 96, batchSize: 2, seed: 7001, steps: 2 }), {
				options: { outputMode: 'allInOne', binaryPropertyName: 'image' },
			}),
			{ postgres: false },
		);
		expect(error).toBeUndefined();
		const items = output('ComfyUI');
		expect(items).toHaveLength(1);
		const json = items[0].json as Json;
		expect(json).toMatchObject({ status: 'succeeded', recorded: false, fileCount: 2 });
		expect(json.files.map((f: Json) => f.binaryProperty)).toEqual(['image_0', 'image_1']);
		for (const [n, file] of (json.files as Json[]).entries()) {
			const png = bytesOf(items[0], `image_${n}`);
			expect(readPngSize(png)).toEqual({ width: 64, height: 96 });
			expect(file.sha256).toBe(sha256(png));
		}
		const after = await pool.query('SELECT count(*)::int AS n FROM executions');
		expect(after.rows[0].n).toBe(before.rows[0].n);
	});

	test('a UI-format workflow is refused before anything is sent, naming the field and how to export', async () => {
		const ui = JSON.stringify((await import('./fixtures/txt2img.ui.json')).default);
		const submittedBefore = sim.submissions.length;
		const { error } = await run(rawWorkflow(ui), { postgres: false });
		expect(error?.message).toMatch(/UI \(editor\) format, not the API format/);
		const description = (error as { description?: string }).description;
		expect(description).toMatch(/Export \(API\)/);
		expect(description).toMatch(/Check the "Workflow \(API Format\)" field/);
		const continued = await run(rawWorkflow(ui), { postgres: false, onError: 'continueRegularOutput' });
		expect(continued.output('ComfyUI')[0].json).toMatchObject({ code: 'workflow_ui_format', kind: 'validation', httpStatus: 400, field: 'workflow' });
		expect(sim.submissions.length).toBe(submittedBefore);
	});

	test('the same failure has the same code whoever finds it: an unknown template is template_not_found (404, field template)', async () => {
		const before = await pool.query('SELECT count(*)::int AS n FROM executions');
		const params = fromTemplate({ template: { __rl: true, mode: 'name', value: 'no-such-template' } });
		const continued = await run(params, { onError: 'continueRegularOutput' });
		const [item] = continued.output('ComfyUI');
		expect(item.json).toMatchObject({ code: 'template_not_found', kind: 'not_found', httpStatus: 404, field: 'template' });
		expect(item.json.error).toMatch(/no-such-template/);
		// "Continue (using error output)": the failure goes to the error output with the same code.
		const routed = await run(params, { onError: 'continueErrorOutput' });
		expect(routed.output('ComfyUI', 0)).toHaveLength(0);
		expect(routed.output('ComfyUI', 1)[0].json.error).toMatchObject({ code: 'template_not_found', httpStatus: 404, field: 'template' });
		const stopped = await run(params);
		expect(stopped.error?.message).toMatch(/no-such-template/);
		expect((stopped.error as { description?: string }).description).toMatch(/Check the "Template" field/);
		const after = await pool.query('SELECT count(*)::int AS n FROM executions');
		expect(after.rows[0].n).toBe(before.rows[0].n);
	});

	test('input is validated once by the use case schema, naming the field: Parallel Items, Timeout, tracking text', async () => {
		const submittedBefore = sim.submissions.length;
		const workflow = txt2imgWorkflow({ steps: 2 });
		const zeroParallel = await run(rawWorkflow(workflow, { options: { parallelItems: 0 } }), { postgres: false });
		expect(zeroParallel.error?.message).toMatch(/Parallel Items must be a whole number from 1 to 16/);
		expect((zeroParallel.error as { description?: string }).description).toMatch(/Check the "Parallel Items" field/);

		const items = async (parameters: Record<string, unknown>) =>
			(await run(parameters, { postgres: false, onError: 'continueRegularOutput' })).output('ComfyUI').map((i) => i.json);
		expect(await items(rawWorkflow(workflow, { options: { timeout: -1 } }))).toEqual([
			expect.objectContaining({ code: 'invalid_input', httpStatus: 400, field: 'timeout' }),
		]);
		expect(await items(rawWorkflow(workflow, { tracking: { userId: 'ann\u0000' } }))).toEqual([
			expect.objectContaining({ code: 'invalid_text', httpStatus: 400, field: 'userId' }),
		]);
		expect(await items(rawWorkflow(workflow, { tracking: { campaignId: 'not-a-uuid' } }))).toEqual([
			expect.objectContaining({ code: 'invalid_input', field: 'campaignId' }),
		]);
		expect(await items(rawWorkflow(workflow, { options: { executionId: 'order-17' } }))).toEqual([
			expect.objectContaining({ code: 'invalid_input', field: 'executionId' }),
		]);
		expect(await items(rawWorkflow(workflow, { overrides: { steps: 0, randomSeed: false } }))).toEqual([
			expect.objectContaining({ code: 'invalid_input', field: 'overrides.steps' }),
		]);
		expect(await items(rawWorkflow(''))).toEqual([expect.objectContaining({ code: 'field_required', field: 'workflow' })]);
		expect(sim.submissions.length).toBe(submittedBefore);
	});

	test('an execution_error names the ComfyUI node and is recorded as failed with the error JSON', async () => {
		sim.faults.executionErrorAtNode = '3';
		sim.faults.executionErrorMessage = 'CUDA error: device-side assert triggered';
		const before = await statsOf('fox');
		const { error, run: result } = await run(fromTemplate({ overrides: { randomSeed: true } }));
		expect(result.status).toBe('error');
		expect(error?.name).toBe('NodeOperationError');
		expect(error?.message).toMatch(/node 3 \(KSampler\)/);
		expect(error?.message).toMatch(/CUDA error/);
		const { rows } = await pool.query(`SELECT * FROM executions WHERE status = 'failed' ORDER BY created_at DESC LIMIT 1`);
		expect(rows[0].error).toMatchObject({
			code: 'comfyui_execution_failed',
			kind: 'upstream',
			details: { nodeErrors: [{ nodeId: '3', classType: 'KSampler' }], promptId: rows[0].id, executionId: rows[0].id },
		});
		const after = await statsOf('fox');
		expect(Number(after?.failed)).toBe(Number(before?.failed ?? 0) + 1);
		expect(Number(after?.executions)).toBe(Number(before?.executions ?? 0) + 1);
	});

	test('Continue On Fail: good and bad items keep their order and pairing', async () => {
		const { output, error } = await run(
			fromTemplate({
				values: '={{ JSON.stringify($json.values) }}',
				overrides: { randomSeed: true, checkpoint: "={{ $json.ckpt || '' }}" },
			}),
			{
				onError: 'continueRegularOutput',
				input: [
					{ json: { values: { animal: 'owl' } } },
					{ json: { values: { animal: 'owl', colour: 'red' } } },
					{ json: { values: { animal: 'hare' } } },
					{ json: { values: { animal: 'lynx' }, ckpt: 'missing.safetensors' } },
				],
			},
		);
		expect(error).toBeUndefined();
		const items = output('ComfyUI');
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }]);
		expect(items[0].json.positivePrompt).toBe('a owl in the snow');
		expect(readPngSize(bytesOf(items[0]))).toEqual({ width: 512, height: 512 });
		expect(items[1].json).toMatchObject({ code: 'variable_unknown', httpStatus: 400, field: 'values.colour', error: expect.stringMatching(/colour/) });
		expect(items[1].binary).toBeUndefined();
		expect(items[2].json.positivePrompt).toBe('a hare in the snow');
		const bad = items[3].json as Json;
		expect(bad.error).toMatch(/Node 4 \(CheckpointLoaderSimple\) input "ckpt_name"/);
		expect(bad).toMatchObject({
			code: 'comfyui_prompt_invalid',
			httpStatus: 400,
			nodeErrors: [{ nodeId: '4', inputName: 'ckpt_name' }],
			promptId: bad.executionId,
			server: sim.url,
		});
		// ComfyUI's refusal is recorded too.
		expect((await executionRow(bad.executionId)).status).toBe('failed');
	});

	test('Timeout: the running job is interrupted on the server and the run is recorded as failed (code timeout)', async () => {
		sim.setNodeTime('KSampler', 30_000); // 300 steps of 100 ms: interruptible at every step
		const { error } = await run(fromTemplate({ overrides: { seed: 9001, randomSeed: false, steps: 300 }, options: { timeout: 1 } }));
		expect(error?.message).toMatch(/did not finish within 1 s/);
		expect((error as { description?: string }).description).toMatch(/Raise the timeout/);
		const { rows } = await pool.query(`SELECT * FROM executions WHERE seed = 9001`);
		expect(rows).toHaveLength(1);
		expect(rows[0].status).toBe('failed');
		expect(rows[0].error).toMatchObject({ code: 'comfyui_timeout', kind: 'timeout', details: { cancelAction: 'interrupted' } });
		expect(sim.interrupts.some((x) => x.promptId === rows[0].id && x.applied)).toBe(true);
	});

	test("n8n's Stop (the execution's cancel signal) interrupts the job and records it as cancelled", async () => {
		sim.setNodeTime('KSampler', 30_000); // 300 steps of 100 ms: interruptible at every step
		const workflow = workflowWith([{ name: 'ComfyUI', parameters: fromTemplate({ overrides: { seed: 9002, randomSeed: false, steps: 300 } }) }]);
		const execution = startWorkflow({ workflow, nodeTypes, credentials: { comfyUiApi: comfyCredential(), promptLabPostgres: pg() } });
		execution.result.catch(() => undefined);
		const promptId = await until(() => sim.queue().running[0], 'the job to run');
		execution.cancel();
		const row = await until(async () => {
			const found = await executionRow(promptId);
			return found?.status === 'cancelled' ? found : undefined;
		}, 'the execution to be recorded as cancelled');
		expect(row.error).toMatchObject({ code: 'job_cancelled', details: { cancelAction: 'interrupted' } });
		expect(sim.interrupts.some((x) => x.promptId === promptId && x.applied)).toBe(true);
		expect(Number((await statsOf('fox'))?.cancelled)).toBeGreaterThanOrEqual(1);
	});

	test('a pool of two servers with Parallel Items = 4 spreads the jobs and keeps output order and pairing', async () => {
		const input = Array.from({ length: 8 }, (_, n) => ({ json: { seed: 5000 + n } }));
		const aBefore = sim.submitted.length;
		const bBefore = simB.submitted.length;
		const { output, error } = await run(
			rawWorkflow(txt2imgWorkflow({ width: 64, height: 64, steps: 10 }), {
				overrides: { seed: '={{ $json.seed }}', randomSeed: false },
				options: { parallelItems: 4 },
			}),
			{ input, postgres: false, comfy: comfyCredential({ additionalServers: ` ${simB.url} ` }) },
		);
		expect(error).toBeUndefined();
		const items = output('ComfyUI');
		expect(items.map((i) => i.json.seed)).toEqual(input.map((i) => i.json.seed));
		expect(items.map((i) => i.pairedItem)).toEqual(input.map((_, n) => ({ item: n })));
		expect(new Set(items.map((i) => i.json.server))).toEqual(new Set([sim.url, simB.url]));
		expect(sim.submitted.length - aBefore + (simB.submitted.length - bBefore)).toBe(8);
		// Each job's file came from the server that ran it.
		for (const item of items) {
			const server = item.json.server === sim.url ? sim : simB;
			const stored = await server.fileSha256({ filename: String(item.json.filename), subfolder: String(item.json.subfolder), type: 'output' });
			expect(stored).toBe(sha256(bytesOf(item)));
		}
	});

	test('with Parallel Items, a failing item stops the node and its running sibling is removed and recorded as cancelled', async () => {
		sim.setNodeTime('KSampler', 120_000);
		const { error } = await run(
			rawWorkflow(txt2imgWorkflow({ steps: 300 }), {
				overrides: { seed: '={{ $json.seed }}', randomSeed: false, checkpoint: "={{ $json.ckpt || '' }}" },
				options: { parallelItems: 2 },
			}),
			{ input: [{ json: { seed: 9300 } }, { json: { seed: 9301, ckpt: 'missing.safetensors' } }] },
		);
		expect(error?.message).toMatch(/Node 4 \(CheckpointLoaderSimple\) input "ckpt_name"/);
		const { rows } = await pool.query('SELECT id, seed, status, error FROM executions WHERE seed IN (9300, 9301) ORDER BY seed');
		expect(rows.find((r) => r.seed === '9301')?.status).toBe('failed');
		// The sibling was in flight (how far it got is a race: started, submitted or running). Whatever it
		// reached, it is recorded as cancelled and not left behind on the server (its job would run 120 s).
		const sibling = rows.find((r) => r.seed === '9300');
		if (sibling) expect(sibling).toMatchObject({ status: 'cancelled', error: { code: 'job_cancelled' } });
		await until(() => sim.queueLength() === 0, 'the server queue to be empty', 10_000);
	});

	test('Max Jobs in Flight per User: 20 items in parallel for one user with a limit of 5 → 5 images and 15 error items with 429', async () => {
		sim.setNodeTime('KSampler', 1_000);
		const userId = `quota-${randomUUID()}`;
		const input = Array.from({ length: 20 }, (_, n) => ({ json: { seed: 7000 + n } }));
		const submittedBefore = sim.submitted.length;
		const statsBefore = Number((await statsOf('fox'))?.executions ?? 0);
		const { output, error } = await run(
			fromTemplate({
				overrides: { seed: '={{ $json.seed }}', randomSeed: false },
				tracking: { userId },
				options: { parallelItems: 16, maxJobsInFlightPerUser: 5 },
			}),
			{ input, onError: 'continueRegularOutput' },
		);
		expect(error).toBeUndefined();
		const items = output('ComfyUI');
		expect(items).toHaveLength(20);
		expect(items.map((i) => i.pairedItem)).toEqual(input.map((_, n) => ({ item: n })));
		const images = items.filter((i) => i.json.status === 'succeeded');
		const refused = items.filter((i) => i.json.code !== undefined);
		expect(images).toHaveLength(5);
		images.forEach((i) => expect(readPngSize(bytesOf(i))).toBeDefined());
		expect(refused).toHaveLength(15);
		for (const item of refused) {
			expect(item.json).toMatchObject({
				code: 'quota_exceeded',
				kind: 'quota',
				httpStatus: 429,
				field: 'userId',
				retryAfterSeconds: 5,
				quota: 'jobsInFlight',
				limit: 5,
				inFlight: 5,
			});
			expect(item.json.error).toMatch(/limit of 5 jobs in flight/);
			expect(item.json.executionId).toBeUndefined();
		}
		// The refused jobs reached neither ComfyUI nor the database, and moved no aggregate.
		expect(sim.submitted.length - submittedBefore).toBe(5);
		const { rows } = await pool.query('SELECT status FROM executions WHERE user_id = $1', [userId]);
		expect(rows.map((r) => r.status)).toEqual(Array(5).fill('succeeded'));
		expect(Number((await statsOf('fox'))?.executions) - statsBefore).toBe(5);
	}, 60_000);

	test('a per-user limit without a User ID, or without the Postgres credential, fails the item naming the field', async () => {
		const workflow = txt2imgWorkflow({ width: 64, height: 64 });
		const submittedBefore = sim.submitted.length;
		const noUser = await run(rawWorkflow(workflow, { options: { maxJobsPerDayPerUser: 3 } }), { onError: 'continueRegularOutput' });
		expect(noUser.output('ComfyUI')[0].json).toMatchObject({ code: 'field_required', httpStatus: 400, field: 'userId' });
		const noDb = await run(rawWorkflow(workflow, { tracking: { userId: 'u1' }, options: { maxJobsInFlightPerUser: 2 } }), { postgres: false });
		expect(noDb.error?.message).toMatch(/PromptLab database/);
		expect((noDb.error as unknown as { description?: string }).description).toMatch(/Max Jobs in Flight per User/);
		expect(sim.submitted.length).toBe(submittedBefore);
		// 0 is "no limit": it needs neither.
		const unlimited = await run(rawWorkflow(workflow, { options: { maxJobsInFlightPerUser: 0, maxJobsPerDayPerUser: 0 } }), { postgres: false });
		expect(unlimited.error).toBeUndefined();
		expect(unlimited.output('ComfyUI')[0].json).toMatchObject({ status: 'succeeded', recorded: false });
	});

	test('Upload Image → Load Image → Save Image round trip', async () => {
		const photo = encodeSolidPng(80, 48, { r: 200, g: 30, b: 30 });
		const roundTrip = {
			'1': { class_type: 'LoadImage', inputs: { image: '{{ $json.image }}' } },
			'2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'roundtrip' } },
		};
		const result = await runWorkflow({
			workflow: workflowWith([
				{ name: 'Upload', parameters: { operation: 'uploadImage' }, postgres: false },
				{ name: 'Generate', parameters: rawWorkflow(`=${JSON.stringify(roundTrip)}`), postgres: false },
			]),
			nodeTypes,
			credentials: { comfyUiApi: comfyCredential() },
			input: [{ json: {}, binary: { data: { data: photo.toString('base64'), mimeType: 'image/png', fileName: 'product.png' } } }],
		});
		expect(result.error).toBeUndefined();
		const [uploaded] = result.output('Upload');
		expect(uploaded.json).toMatchObject({
			image: `${sha256(photo).slice(0, 12)}-product.png`,
			type: 'input',
			servers: [sim.url],
			sha256: sha256(photo),
			bytes: photo.length,
		});
		expect(sim.fileExists({ filename: String(uploaded.json.name), type: 'input' })).toBe(true);
		const [generated] = result.output('Generate');
		expect(readPngSize(bytesOf(generated))).toEqual({ width: 80, height: 48 });
		expect(generated.json.status).toBe('succeeded');
	});

	test('submit only, then Get Result records the outcome once; by prompt ID it works without the database', async () => {
		const statsBefore = await statsOf('fox');
		const submitted = await run(fromTemplate({ waitForCompletion: false, overrides: { seed: 9100, randomSeed: false } }));
		expect(submitted.error).toBeUndefined();
		const [item] = submitted.output('ComfyUI');
		expect(item.json).toMatchObject({ status: 'submitted', server: sim.url });
		expect(item.binary).toBeUndefined();
		const executionId = String(item.json.executionId);
		await sim.idle();

		const getResult = { operation: 'getResult', lookupBy: 'executionId', executionId };
		const first = await run(getResult);
		expect(first.error).toBeUndefined();
		const [result] = first.output('ComfyUI');
		expect(result.json).toMatchObject({ status: 'succeeded', executionId, nodeId: '9', recorded: true });
		expect(readPngSize(bytesOf(result))).toEqual({ width: 512, height: 512 });
		const row = await executionRow(executionId);
		expect(row.status).toBe('succeeded');
		const assets = await pool.query('SELECT sha256 FROM generated_assets WHERE execution_id = $1', [executionId]);
		expect(assets.rows.map((r) => r.sha256)).toEqual([sha256(bytesOf(result))]);

		await run(getResult); // asking again changes nothing
		const statsAfter = await statsOf('fox');
		expect(Number(statsAfter?.executions)).toBe(Number(statsBefore?.executions) + 1);
		expect(Number(statsAfter?.succeeded)).toBe(Number(statsBefore?.succeeded) + 1);

		const byPrompt = await run(
			{ operation: 'getResult', lookupBy: 'promptId', promptId: executionId, options: { download: false } },
			{ postgres: false },
		);
		const [meta] = byPrompt.output('ComfyUI');
		expect(meta.json).toMatchObject({ status: 'succeeded', promptId: executionId, server: sim.url, filename: result.json.filename });
		expect(meta.binary).toBeUndefined();

		const unknown = await run({ operation: 'getResult', lookupBy: 'promptId', promptId: randomUUID() }, { postgres: false });
		expect(unknown.output('ComfyUI')[0].json.status).toBe('unknown');

		const missing = await run({ operation: 'getResult', lookupBy: 'executionId', executionId: randomUUID() }, { onError: 'continueRegularOutput' });
		expect(missing.output('ComfyUI')[0].json).toMatchObject({ code: 'execution_not_found', httpStatus: 404, field: 'executionId' });
		const malformed = await run({ operation: 'getResult', lookupBy: 'executionId', executionId: 'order-17' }, { onError: 'continueRegularOutput' });
		expect(malformed.output('ComfyUI')[0].json).toMatchObject({ code: 'invalid_input', httpStatus: 400, field: 'executionId' });
	});

	test('a re-run with the same Execution ID waits for / reuses the job instead of submitting it again', async () => {
		const executionId = randomUUID();
		const statsBefore = await statsOf('fox');
		const params = fromTemplate({ overrides: { seed: 9200, randomSeed: false }, options: { executionId } });
		const first = await run(params);
		expect(first.error).toBeUndefined();
		const submissions = sim.submissions.length;
		const second = await run(params);
		expect(second.error).toBeUndefined();
		expect(sim.submissions.length).toBe(submissions);
		const [a] = first.output('ComfyUI');
		const [b] = second.output('ComfyUI');
		expect(b.json).toMatchObject({ executionId, filename: a.json.filename, sha256: a.json.sha256 });
		expect(Number((await statsOf('fox'))?.executions)).toBe(Number(statsBefore?.executions) + 1);
	});

	test('Queue Status and Cancel: a running job is interrupted, a waiting one deleted, both recorded as cancelled', async () => {
		sim.setNodeTime('KSampler', 30_000); // 300 steps of 100 ms: interruptible at every step
		const submitted = await run(fromTemplate({ waitForCompletion: false, overrides: { randomSeed: true, steps: 300 } }), {
			input: [{ json: {} }, { json: {} }],
		});
		const ids = submitted.output('ComfyUI').map((i) => String(i.json.executionId));
		expect(ids).toHaveLength(2);
		await until(() => sim.queue().running[0] === ids[0], 'the first job to run');

		const status = await run({ operation: 'getQueueStatus', includePromptIds: true }, { postgres: false });
		expect(status.output('ComfyUI').map((i) => i.json)).toEqual([
			expect.objectContaining({ server: sim.url, up: true, running: 1, pending: 1, runningPromptIds: [ids[0]], pendingPromptIds: [ids[1]] }),
		]);

		// The waiting job first: cancelling the running one first would let the waiting one start.
		const cancel = await run(
			{ operation: 'cancel', promptId: '={{ $json.id }}' },
			{ input: [ids[1], ids[0]].map((id) => ({ json: { id } })) },
		);
		expect(cancel.error).toBeUndefined();
		expect(cancel.output('ComfyUI').map((i) => [i.json.outcome, i.json.recordedAsCancelled, i.pairedItem])).toEqual([
			['deleted_from_queue', true, { item: 0 }],
			['interrupted', true, { item: 1 }],
		]);
		for (const id of ids) expect((await executionRow(id)).status).toBe('cancelled');
		await sim.idle();
		const again = await run({ operation: 'cancel', promptId: ids[1] }, { postgres: false });
		expect(again.output('ComfyUI')[0].json.outcome).toBe('not_found');
		const empty = await run({ operation: 'cancel', promptId: ' ' }, { postgres: false, onError: 'continueRegularOutput' });
		expect(empty.output('ComfyUI')[0].json).toMatchObject({ code: 'field_required', httpStatus: 400, field: 'promptId' });
	});

	describe('editor methods', () => {
		function loadOptionsContext(credential: ICredentialDataDecryptedObject): ILoadOptionsFunctions {
			return {
				getCredentials: async () => credential,
				getNode: () => ({ id: 'n', name: 'ComfyUI', type: NODE_TYPE, typeVersion: 1, position: [0, 0], parameters: {} }),
			} as unknown as ILoadOptionsFunctions;
		}

		test("the checkpoint dropdown lists the servers' models and flags ones missing on a pool member", async () => {
			const single = await node.methods.loadOptions.getCheckpoints.call(loadOptionsContext(comfyCredential()));
			expect(single).toEqual([
				{ name: 'sd_xl_base_1.0.safetensors', value: 'sd_xl_base_1.0.safetensors' },
				{ name: 'v1-5-pruned-emaonly.safetensors', value: 'v1-5-pruned-emaonly.safetensors' },
			]);
			const pooled = await node.methods.loadOptions.getCheckpoints.call(
				loadOptionsContext(comfyCredential({ additionalServers: simB.url })),
			);
			expect(pooled).toEqual([
				{ name: `sd_xl_base_1.0.safetensors (not on ${simB.url})`, value: 'sd_xl_base_1.0.safetensors' },
				{ name: 'v1-5-pruned-emaonly.safetensors', value: 'v1-5-pruned-emaonly.safetensors' },
			]);
		});

		test('credential test: OK against a server, and an auth failure says what to fix in the credential', async () => {
			const test = (data: ICredentialDataDecryptedObject) =>
				node.methods.credentialTest.comfyUiApiConnectionTest.call({} as ICredentialTestFunctions, {
					id: '1',
					name: 'comfy',
					type: 'comfyUiApi',
					data,
				});
			const ok = await test(comfyCredential());
			expect(ok.status).toBe('OK');
			expect(ok.message).toMatch(/Connected to ComfyUI/);

			const guarded = await startComfySim({ faults: { auth: { type: 'bearer', token: 'right-token' } } });
			try {
				const none = await test({ baseUrl: guarded.url, authentication: 'none' });
				expect(none.status).toBe('Error');
				expect(none.message).toMatch(/requires authentication.*ComfyUI API credential/);
				const wrong = await test({ baseUrl: guarded.url, authentication: 'bearer', token: 'wrong' });
				expect(wrong.status).toBe('Error');
				expect(wrong.message).toMatch(/refused the Bearer token: check the token in the ComfyUI API credential/);
				const right = await test({ baseUrl: guarded.url, authentication: 'bearer', token: 'right-token' });
				expect(right.status).toBe('OK');
				const badUrl = await test({ baseUrl: 'ftp://example.com' });
				expect(badUrl).toMatchObject({ status: 'Error' });
				expect(badUrl.message).toMatch(/Base URL/);
			} finally {
				await guarded.stop();
			}
		});

		test('the credential shows the fields of the chosen authentication only, secrets as passwords', () => {
			const credential = new ComfyUiApi();
			const field = (name: string) => credential.properties.find((p) => p.name === name);
			expect(field('token')?.displayOptions?.show?.authentication).toEqual(['bearer']);
			expect(field('password')?.typeOptions?.password).toBe(true);
			expect(field('comfyOrgApiKey')?.typeOptions?.password).toBe(true);
			const entry = node.description.credentials?.find((c) => c.name === 'comfyUiApi');
			expect(entry).toMatchObject({ required: true, testedBy: 'comfyUiApiConnectionTest' });
			expect(node.description.credentials?.find((c) => c.name === 'promptLabPostgres')?.required).toBe(false);
		});
	});
});
