import { randomUUID } from 'node:crypto';

import type { INodeExecutionData } from 'n8n-workflow';
import type { Pool } from 'pg';

import { finishExecution, startExecution } from '../lib/db/executions';
import { getPool } from '../lib/db/pool';
import { createTemplate } from '../lib/templates/manage';
import { RecordFeedback } from '../nodes/RecordFeedback/RecordFeedback.node';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postgresCredential, runWorkflow, type WorkflowFixture } from '../dev/n8n-harness';

const TYPE = 'n8n-nodes-promptlab.recordFeedback';
const nodeTypes = { [TYPE]: new RecordFeedback() };
const TRIGGER = { id: 't', name: 'Manual Trigger', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0] as [number, number], parameters: {} };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- node output JSON in assertions

/** Trigger → one or more Record Feedback nodes in a chain. */
function chain(nodes: Array<{ name: string; parameters: Record<string, unknown>; onError?: string }>): WorkflowFixture {
	const all = [
		TRIGGER,
		...nodes.map((n, k) => ({
			id: `n${k}`,
			name: n.name,
			type: TYPE,
			typeVersion: 1,
			position: [200 * (k + 1), 0] as [number, number],
			parameters: n.parameters,
			credentials: { promptLabPostgres: { id: '1', name: 'pg' } },
			...(n.onError ? { onError: n.onError as 'continueRegularOutput' } : {}),
		})),
	];
	const connections: WorkflowFixture['connections'] = {};
	for (let k = 0; k < all.length - 1; k++) {
		connections[all[k].name] = { main: [[{ node: all[k + 1].name, type: 'main' as never, index: 0 }]] };
	}
	return { nodes: all, connections };
}

const recordParameters = {
	resource: 'feedback',
	operation: 'record',
	executionId: '={{ $json.executionId }}',
	rating: '={{ $json.rating }}',
	userId: '={{ $json.userId }}',
	comment: '={{ $json.comment ?? "" }}',
	options: { idempotencyKey: '={{ $json.key ?? "" }}', source: 'webhook', asyncCommit: true },
};

describe('Record Feedback node in n8n-core WorkflowExecute', () => {
	let db: TestDatabase;
	let pool: Pool;
	let credentials: Record<string, ReturnType<typeof postgresCredential>>;
	let versionId: string;

	beforeAll(async () => {
		db = await createTestDatabase();
		credentials = { promptLabPostgres: postgresCredential(db.config) };
		pool = await getPool(db.config);
		versionId = (await createTemplate(pool, { name: 'story', kind: 'text', firstVersion: { positivePrompt: 'Tell a story about {{topic}}', variables: [{ name: 'topic', type: 'string' }] } })).version.id;
		await createTemplate(pool, { name: 'tale', kind: 'text', firstVersion: { positivePrompt: 'Write a tale' } });
	});
	afterAll(async () => {
		await db.drop();
	});

	async function comfyExecution(promptId?: string): Promise<string> {
		const id = randomUUID();
		await startExecution(pool, { id, source: 'comfyui', versionId, promptId });
		await finishExecution(pool, id, { status: 'succeeded', durationMs: 1200 });
		return id;
	}

	async function feedbackCount(executionId: string): Promise<number> {
		const { rows } = await pool.query('SELECT count(*)::int AS n FROM feedback WHERE execution_id = $1', [executionId]);
		return rows[0].n;
	}

	test('records ratings per item, flags a retried delivery as duplicate and returns the new stats', async () => {
		const executionId = await comfyExecution();
		const input: INodeExecutionData[] = [
			{ json: { executionId, rating: 5, userId: 'ana', comment: 'great', key: 'delivery-1' } },
			{ json: { executionId, rating: 5, userId: 'ana', comment: 'great', key: 'delivery-1' } }, // webhook retry
			{ json: { executionId, rating: '2', userId: 'bo' } },
			{ json: { executionId, rating: 4, userId: 'ana', key: 'delivery-2' } }, // ana changes her mind
		];
		const { output, error } = await runWorkflow({ workflow: chain([{ name: 'Record', parameters: recordParameters }]), nodeTypes, credentials, input });
		expect(error).toBeUndefined();
		const items = output('Record');
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }]);
		const json = items.map((i) => i.json as Json);
		expect(json.map((j) => [j.userId, j.rating, j.duplicate, j.replaced, j.previousRating])).toEqual([
			['ana', 5, false, false, null],
			['ana', 5, true, false, null],
			['bo', 2, false, false, null],
			['ana', 4, false, true, 5],
		]);
		expect(json[0]).toMatchObject({ executionId, comment: 'great', source: 'webhook', idempotencyKey: 'delivery-1' });
		expect(json[3].stats).toMatchObject({ versionId, ratingCount: 2, ratingSum: 6, meanRating: 3, goodShare: 0.5, histogram: { '1': 0, '2': 1, '3': 0, '4': 1, '5': 0 } });
		expect(await feedbackCount(executionId)).toBe(2);
	});

	test('with Continue On Fail, bad ratings become error items with code and field, paired with their input; good ones are recorded', async () => {
		const executionId = await comfyExecution();
		const ratings: Array<number | string | null> = [4, 0, 3.5, 'five', null, 6, 2, '4.0', '+4'];
		const input = ratings.map((rating, k) => ({ json: { executionId, rating, userId: `user-${k}` } }));
		const { output, error } = await runWorkflow({
			workflow: chain([{ name: 'Record', parameters: recordParameters, onError: 'continueRegularOutput' }]),
			nodeTypes,
			credentials,
			input,
		});
		expect(error).toBeUndefined();
		const items = output('Record');
		expect(items.map((i) => i.pairedItem)).toEqual(ratings.map((_, k) => ({ item: k })));
		const json = items.map((i) => i.json as Json);
		expect(json[0]).toMatchObject({ rating: 4, duplicate: false });
		expect(json[6]).toMatchObject({ rating: 2, duplicate: false });
		const failed = [1, 2, 3, 4, 5, 7, 8].map((k) => json[k]);
		expect(failed.map((j) => [j.code, j.field, j.httpStatus, j.kind])).toEqual([
			['rating_out_of_range', 'rating', 400, 'validation'],
			['rating_invalid', 'rating', 400, 'validation'],
			['rating_invalid', 'rating', 400, 'validation'],
			['field_required', 'rating', 400, 'validation'],
			['rating_out_of_range', 'rating', 400, 'validation'],
			['rating_invalid', 'rating', 400, 'validation'],
			['rating_invalid', 'rating', 400, 'validation'],
		]);
		expect(json[2].error).toBe('Rating must be a whole number from 1 to 5 (got the number 3.5)');
		expect(await feedbackCount(executionId)).toBe(2);
	});

	test('without Continue On Fail a bad rating stops the workflow naming the field; an unknown execution names its field', async () => {
		const executionId = await comfyExecution();
		const bad = await runWorkflow({
			workflow: chain([{ name: 'Record', parameters: recordParameters }]),
			nodeTypes,
			credentials,
			input: [{ json: { executionId, rating: 3.5, userId: 'x' } }],
		});
		expect(bad.run.status).toBe('error');
		expect(bad.error?.name).toBe('NodeOperationError');
		expect(bad.error?.message).toBe('Rating must be a whole number from 1 to 5 (got the number 3.5)');
		expect((bad.error as { description?: string }).description).toContain('Check the "Rating" field.');
		const unknown = await runWorkflow({
			workflow: chain([{ name: 'Record', parameters: recordParameters }]),
			nodeTypes,
			credentials,
			input: [{ json: { executionId: randomUUID(), rating: 3, userId: 'x' } }],
		});
		expect(unknown.error?.message).toMatch(/^Execution .* not found$/);
		expect((unknown.error as { description?: string }).description).toContain('Check the "Execution ID" field.');
		expect(await feedbackCount(executionId)).toBe(0);
	});

	test('with Continue On Fail an unknown execution is an error item execution_not_found (404) naming the field', async () => {
		const missing = randomUUID();
		const { output, error } = await runWorkflow({
			workflow: chain([{ name: 'Record', parameters: recordParameters, onError: 'continueRegularOutput' }]),
			nodeTypes,
			credentials,
			input: [{ json: { executionId: missing, rating: 4, userId: 'x' } }],
		});
		expect(error).toBeUndefined();
		expect(output('Record')[0].json).toMatchObject({
			code: 'execution_not_found',
			kind: 'not_found',
			httpStatus: 404,
			field: 'executionId',
			error: `Execution ${missing} not found`,
		});
	});

	test('with "Continue (using error output)" every failure arrives on the error output with code and field; successes on the main output', async () => {
		const executionId = await comfyExecution();
		await runWorkflow({
			workflow: chain([{ name: 'Record', parameters: recordParameters }]),
			nodeTypes,
			credentials,
			input: [{ json: { executionId, rating: 4, userId: 'keyed', key: 'delivery-e' } }],
		});
		const before = await feedbackCount(executionId);
		const cases: Array<[Json, string, string]> = [
			[{ executionId, rating: 6, userId: 'a' }, 'rating_out_of_range', 'rating'],
			[{ executionId, rating: '4.0', userId: 'a' }, 'rating_invalid', 'rating'],
			[{ executionId, rating: '+4', userId: 'a' }, 'rating_invalid', 'rating'],
			[{ executionId, rating: 4, userId: 'a', comment: 'nice\u0000' }, 'invalid_text', 'comment'],
			[{ executionId, rating: 4, userId: 'a\u0000' }, 'invalid_text', 'userId'],
			[{ executionId, rating: 4, userId: '' }, 'field_required', 'userId'],
			[{ executionId: 'not-a-uuid', rating: 4, userId: 'a' }, 'invalid_input', 'executionId'],
			[{ executionId: randomUUID(), rating: 4, userId: 'a' }, 'execution_not_found', 'executionId'],
			[{ executionId, rating: 2, userId: 'keyed', key: 'delivery-e' }, 'idempotency_key_reused', 'idempotencyKey'],
		];
		const input = [...cases.map(([json]) => ({ json })), { json: { executionId, rating: 5, userId: 'fine' } }];
		const { output, error } = await runWorkflow({
			workflow: chain([{ name: 'Record', parameters: recordParameters, onError: 'continueErrorOutput' }]),
			nodeTypes,
			credentials,
			input,
		});
		expect(error).toBeUndefined();
		const main = output('Record', 0);
		const errors = output('Record', 1);
		expect(main.map((i) => [(i.json as Json).userId, (i.json as Json).rating])).toEqual([['fine', 5]]);
		// on the error output n8n merges the input item's json under { error: { message, code, ... } }
		expect(errors.map((i) => i.pairedItem)).toEqual(cases.map((_, k) => ({ item: k })));
		expect(errors.map((i) => [(i.json as Json).error.code, (i.json as Json).error.field])).toEqual(cases.map(([, code, field]) => [code, field]));
		expect(errors.map((i) => (i.json as Json).error.httpStatus)).toEqual([400, 400, 400, 400, 400, 400, 400, 404, 409]);
		expect(errors[0].json).toMatchObject({ executionId, rating: 6, error: { message: 'Rating must be a whole number from 1 to 5 (got the number 6)', kind: 'validation' } });
		expect(await feedbackCount(executionId)).toBe(before + 1);
	});

	test('finds the execution by ComfyUI prompt id', async () => {
		const promptId = randomUUID();
		const executionId = await comfyExecution(promptId);
		const { output, error } = await runWorkflow({
			workflow: chain([
				{
					name: 'Record',
					parameters: { ...recordParameters, findBy: 'promptId', promptId: '={{ $json.promptId }}', executionId: undefined },
				},
			]),
			nodeTypes,
			credentials,
			input: [{ json: { promptId, rating: 5, userId: 'p' } }],
		});
		expect(error).toBeUndefined();
		expect(output('Record')[0].json).toMatchObject({ executionId, rating: 5 });
	});

	test('Log Execution of an LLM output, then Record on the returned execution id, then Get Stats', async () => {
		const { output, error } = await runWorkflow({
			workflow: chain([
				{
					name: 'Log Execution',
					parameters: {
						resource: 'execution',
						operation: 'log',
						template: { __rl: true, mode: 'name', value: 'tale' },
						output: '={{ $json.text }}',
						userId: '={{ $json.user }}',
						options: { durationMs: '={{ $json.ms }}' },
					},
				},
				{
					name: 'Rate',
					parameters: {
						...recordParameters,
						executionId: '={{ $json.executionId }}',
						rating: "={{ $('Manual Trigger').item.json.stars }}",
						userId: "={{ $('Manual Trigger').item.json.user }}",
						options: {},
					},
				},
				{
					name: 'Stats',
					parameters: {
						resource: 'feedback',
						operation: 'getStats',
						template: { __rl: true, mode: 'name', value: 'tale' },
						versionSelection: 'label',
						label: 'production',
					},
				},
			]),
			nodeTypes,
			credentials,
			input: [
				{ json: { text: 'Once upon a time…', user: 'u1', ms: 640, stars: 5 } },
				{ json: { text: 'A dark and stormy night', user: 'u2', ms: 960, stars: 3 } },
			],
		});
		expect(error).toBeUndefined();
		const logged = output('Log Execution').map((i) => i.json as Json);
		expect(logged).toHaveLength(2);
		expect(logged[0]).toMatchObject({ status: 'succeeded', templateName: 'tale', version: 1, resolvedBy: 'label', userId: 'u1', durationMs: 640, alreadyLogged: false });
		const stored = await pool.query('SELECT source, output, n8n_execution_id FROM executions WHERE id = $1', [logged[0].executionId]);
		expect(stored.rows[0]).toEqual({ source: 'external', output: { text: 'Once upon a time…' }, n8n_execution_id: 'test-exec' });
		const rated = output('Rate').map((i) => i.json as Json);
		expect(rated.map((r) => [r.executionId, r.rating, r.userId])).toEqual([
			[logged[0].executionId, 5, 'u1'],
			[logged[1].executionId, 3, 'u2'],
		]);
		const stats = output('Stats').map((i) => i.json as Json);
		expect(stats[1]).toMatchObject({
			templateName: 'tale',
			version: 1,
			resolvedBy: 'label',
			executions: 2,
			succeeded: 2,
			avgDurationMs: 800,
			ratingCount: 2,
			meanRating: 4,
			histogram: { '1': 0, '2': 0, '3': 1, '4': 0, '5': 1 },
		});
	});

	test('Log Execution refuses a bad campaign id naming the field, and is idempotent on a given execution id', async () => {
		const id = randomUUID();
		const log = (options: Record<string, unknown>) =>
			runWorkflow({
				workflow: chain([
					{
						name: 'Log',
						parameters: { resource: 'execution', operation: 'log', template: { __rl: true, mode: 'name', value: 'story' }, output: 'x', options },
						onError: 'continueRegularOutput',
					},
				]),
				nodeTypes,
				credentials,
			});
		const bad = await log({ campaignId: 'not-a-uuid' });
		expect(bad.output('Log')[0].json).toMatchObject({ code: 'invalid_input', field: 'campaignId', httpStatus: 400, error: 'Campaign ID must be a UUID' });
		const nul = await log({ renderedPrompt: 'a\u0000b' });
		expect(nul.output('Log')[0].json).toMatchObject({ code: 'invalid_text', field: 'renderedPrompt' });
		const first = await log({ executionId: id });
		const second = await log({ executionId: id });
		expect(first.output('Log')[0].json).toMatchObject({ executionId: id, alreadyLogged: false });
		expect(second.output('Log')[0].json).toMatchObject({ executionId: id, alreadyLogged: true });
	});
});
