import type { INodeExecutionData } from 'n8n-workflow';

import { getPool } from '../lib/db/pool';
import { PromptTemplate } from '../nodes/PromptTemplate/PromptTemplate.node';
import fixture from './fixtures/workflows/prompt-template.workflow.json';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postgresCredential, runWorkflow, singleNodeWorkflow, type WorkflowFixture } from '../dev/n8n-harness';

const nodeTypes = { 'n8n-nodes-promptlab.promptTemplate': new PromptTemplate() };

describe('Prompt Template node in n8n-core WorkflowExecute', () => {
	let db: TestDatabase;
	let credentials: Record<string, ReturnType<typeof postgresCredential>>;

	beforeAll(async () => {
		db = await createTestDatabase();
		credentials = { promptLabPostgres: postgresCredential(db.config) };
	});
	afterAll(async () => {
		await db.drop();
	});

	type OnError = 'continueRegularOutput' | 'continueErrorOutput';

	function renderNode(parameters: Record<string, unknown>, onError?: OnError): WorkflowFixture {
		return operationNode('Render', { resource: 'template', operation: 'render', ...parameters }, onError);
	}

	function operationNode(name: string, parameters: Record<string, unknown>, onError?: OnError): WorkflowFixture {
		return singleNodeWorkflow({ name, type: 'n8n-nodes-promptlab.promptTemplate', parameters, onError });
	}

	test('the fixture workflow creates two templates and renders each with its own item values', async () => {
		const input: INodeExecutionData[] = [
			{ json: { name: 'sneaker-hero', product: 'red "sneaker" {{ not a var }}' } },
			{ json: { name: 'mug-hero', product: 'mug\nwith ünïcødé 🎨' } },
		];
		const { run, output, error } = await runWorkflow({
			workflow: fixture as unknown as WorkflowFixture,
			nodeTypes,
			credentials,
			input,
		});
		expect(error).toBeUndefined();
		expect(run.status).toBe('success');

		const created = output('Create Template');
		expect(created.map((i) => [i.json.name, i.json.labels, i.pairedItem])).toEqual([
			['sneaker-hero', { production: 1 }, { item: 0 }],
			['mug-hero', { production: 1 }, { item: 1 }],
		]);

		const rendered = output('Render');
		expect(rendered).toHaveLength(2);
		const [first, second] = rendered.map((i) => i.json as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
		expect(first.positivePrompt).toBe('studio photo of red "sneaker" {{ not a var }}');
		expect(second.positivePrompt).toBe('studio photo of mug\nwith ünïcødé 🎨');
		expect(first.values).toEqual({ product: input[0].json.product, style: 'studio', seed: 7 });
		// typed placeholder: the KSampler seed stays a number; prompts flow into CLIPTextEncode
		expect(first.workflow['3'].inputs.seed).toBe(7);
		expect(first.workflow['6'].inputs.text).toBe(first.positivePrompt);
		expect(first.workflow['7'].inputs.text).toBe('blurry');
		expect(first.workflowChecksum).toMatch(/^[0-9a-f]{64}$/);
		expect(first.workflowChecksum).toBe(second.workflowChecksum); // same stored workflow
		expect(first.renderedWorkflowChecksum).not.toBe(second.renderedWorkflowChecksum);
		expect(rendered.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);

		const pool = await getPool(db.config);
		const { rows } = await pool.query('SELECT count(*)::int AS n FROM template_versions');
		expect(rows[0].n).toBe(2);
	});

	test('an ill-typed value stops the workflow with an error naming the variable', async () => {
		const { error, run } = await runWorkflow({
			workflow: renderNode({ template: { __rl: true, mode: 'name', value: 'sneaker-hero' }, values: '{"product":"x","seed":"abc"}' }),
			nodeTypes,
			credentials,
		});
		expect(run.status).toBe('error');
		expect(error?.message).toMatch(/seed/);
		expect(error?.name).toBe('NodeOperationError');
		expect((error as { description?: string }).description).toMatch(/Variable Values/);
		expect((error as { context?: Record<string, unknown> }).context).toMatchObject({ field: 'values.seed' });
	});

	test('with Continue On Fail, bad items become error items (error, code, httpStatus, field) paired with their input', async () => {
		const { output, error } = await runWorkflow({
			workflow: renderNode(
				{ template: { __rl: true, mode: 'name', value: '={{ $json.t }}' }, values: '={{ JSON.stringify($json.values) }}' },
				'continueRegularOutput',
			),
			nodeTypes,
			credentials,
			input: [
				{ json: { t: 'sneaker-hero', values: { product: 'boot' } } },
				{ json: { t: 'sneaker-hero', values: { product: 'boot', colour: 'red' } } },
				{ json: { t: 'no-such-template', values: {} } },
				{ json: { t: 'mug-hero', values: { product: 'cup', style: 'underwater' } } },
			],
		});
		expect(error).toBeUndefined();
		const items = output('Render');
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }]);
		expect(items[0].json.positivePrompt).toBe('studio photo of boot');
		expect(items[1].json).toMatchObject({
			error: expect.stringMatching(/colour/),
			code: 'variable_unknown',
			kind: 'validation',
			httpStatus: 400,
			field: 'values.colour',
		});
		expect(items[2].json).toMatchObject({
			error: expect.stringMatching(/no-such-template.*not found/),
			code: 'template_not_found',
			httpStatus: 404,
			field: 'template',
		});
		expect(items[3].json).toMatchObject({ code: 'variable_invalid', field: 'values.style' });
	});

	test('hostile values are 400s naming the variable: a NUL in a value, a number for a string variable', async () => {
		const { output, error } = await runWorkflow({
			workflow: renderNode(
				{ template: { __rl: true, mode: 'name', value: 'sneaker-hero' }, values: '={{ JSON.stringify($json.values) }}' },
				'continueRegularOutput',
			),
			nodeTypes,
			credentials,
			input: [{ json: { values: { product: 'boot\u0000' } } }, { json: { values: { product: 42 } } }],
		});
		expect(error).toBeUndefined();
		const [nul, number] = output('Render').map((i) => i.json);
		expect(nul).toMatchObject({ code: 'invalid_text', httpStatus: 400, field: 'values.product', error: expect.stringMatching(/NUL/) });
		expect(number).toMatchObject({ code: 'variable_invalid', httpStatus: 400, field: 'values.product', hint: expect.stringMatching(/JSON string/) });
	});

	test('an unknown template is the same error item from Get, Render, Create Version and Label History: template_not_found, 404, field template', async () => {
		const template = { __rl: true, mode: 'name', value: 'no-such-template' };
		const operations: Array<[string, Record<string, unknown>]> = [
			['Get', { resource: 'template', operation: 'get', template }],
			['Render', { resource: 'template', operation: 'render', template, values: '{}' }],
			['Create Version', { resource: 'version', operation: 'create', template, positivePrompt: 'x' }],
			['Label History', { resource: 'label', operation: 'getHistory', template }],
		];
		for (const [name, parameters] of operations) {
			const { output, error } = await runWorkflow({ workflow: operationNode(name, parameters, 'continueRegularOutput'), nodeTypes, credentials });
			expect(error).toBeUndefined();
			expect(output(name).map((i) => i.json)).toEqual([
				expect.objectContaining({ code: 'template_not_found', kind: 'not_found', httpStatus: 404, field: 'template' }),
			]);
		}
	});

	test('with "Continue (using error output)" failures arrive on the error output with their code; good items stay on the main output', async () => {
		const { output, error } = await runWorkflow({
			workflow: operationNode(
				'Get',
				{ resource: 'template', operation: 'get', template: { __rl: true, mode: 'name', value: '={{ $json.t }}' } },
				'continueErrorOutput',
			),
			nodeTypes,
			credentials,
			input: [{ json: { t: 'sneaker-hero' } }, { json: { t: 'no-such-template' } }, { json: { t: '' } }],
		});
		expect(error).toBeUndefined();
		expect(output('Get', 0).map((i) => [i.json.name, i.pairedItem])).toEqual([['sneaker-hero', { item: 0 }]]);
		// n8n puts the input item's json under the error output's { error: { message, code, ... } }
		const failed = output('Get', 1);
		expect(failed.map((i) => [i.json.t, i.json.error, i.pairedItem])).toEqual([
			['no-such-template', expect.objectContaining({ code: 'template_not_found', httpStatus: 404, field: 'template' }), { item: 1 }],
			['', expect.objectContaining({ code: 'field_required', httpStatus: 400, field: 'template' }), { item: 2 }],
		]);
	});

	test('a NUL in a new template name is refused (invalid_text, field name) and nothing is stored', async () => {
		const pool = await getPool(db.config);
		const before = (await pool.query('SELECT count(*)::int AS n FROM templates')).rows[0].n;
		const { output, error } = await runWorkflow({
			workflow: operationNode(
				'Create',
				{ resource: 'template', operation: 'create', name: '={{ $json.name }}', kind: 'text', positivePrompt: 'x' },
				'continueErrorOutput',
			),
			nodeTypes,
			credentials,
			input: [{ json: { name: 'bad\u0000name' } }],
		});
		expect(error).toBeUndefined();
		expect(output('Create', 1).map((i) => i.json.error)).toEqual([
			expect.objectContaining({ code: 'invalid_text', httpStatus: 400, field: 'name', message: expect.stringMatching(/NUL/) }),
		]);
		expect((await pool.query('SELECT count(*)::int AS n FROM templates')).rows[0].n).toBe(before);
	});

	test('a UI-format workflow is refused by the node with instructions, naming the field', async () => {
		const ui = JSON.stringify((await import('./fixtures/txt2img.ui.json')).default);
		const { error } = await runWorkflow({
			workflow: {
				nodes: [
					{ id: 't', name: 'Manual Trigger', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
					{
						id: 'c',
						name: 'Create',
						type: 'n8n-nodes-promptlab.promptTemplate',
						typeVersion: 1,
						position: [200, 0],
						parameters: { resource: 'template', operation: 'create', name: 'ui-paste', kind: 'image', workflow: ui },
						credentials: { promptLabPostgres: { id: '1', name: 'pg' } },
					},
				],
				connections: { 'Manual Trigger': { main: [[{ node: 'Create', type: 'main' as never, index: 0 }]] } },
			},
			nodeTypes,
			credentials,
		});
		expect(error?.message).toMatch(/UI|API/);
		expect((error as { description?: string }).description).toMatch(/Export \(API\)[\s\S]*ComfyUI Workflow \(API Format\)/);
		expect((error as { context?: Record<string, unknown> }).context).toMatchObject({ field: 'workflow' });
	});

	test('a broken credential fails every item the same way: an error, or error items with Continue On Fail', async () => {
		const broken = { promptLabPostgres: { ...credentials.promptLabPostgres, schema: 'Bad Schema!' } };
		const parameters = { template: { __rl: true, mode: 'name', value: 'sneaker-hero' }, values: '{}' };
		const stopped = await runWorkflow({ workflow: renderNode(parameters), nodeTypes, credentials: broken });
		expect(stopped.error?.message).toMatch(/Schema/);
		const { output, error } = await runWorkflow({
			workflow: renderNode(parameters, 'continueRegularOutput'),
			nodeTypes,
			credentials: broken,
			input: [{ json: {} }, { json: {} }],
		});
		expect(error).toBeUndefined();
		expect(output('Render').map((i) => [String(i.json.error).includes('Schema'), i.json.code, i.pairedItem])).toEqual([
			[true, 'database_credential_invalid', { item: 0 }],
			[true, 'database_credential_invalid', { item: 1 }],
		]);
	});
});
