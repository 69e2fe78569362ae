import type { INodeExecutionData } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getPool } from '../lib/db/pool';
import { createTemplate } from '../lib/templates/manage';
import { Recommend } from '../nodes/Recommend/Recommend.node';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postgresCredential, runWorkflow, type WorkflowFixture, singleNodeWorkflow } from '../dev/n8n-harness';

const TYPE = 'n8n-nodes-promptlab.recommend';
const nodeTypes = { [TYPE]: new Recommend() };

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON output of n8n items is untyped */

describe('Recommend node in n8n-core WorkflowExecute', () => {
	let db: TestDatabase;
	let pool: Pool;
	let credentials: Record<string, ReturnType<typeof postgresCredential>>;
	const ids: Record<string, string> = {};

	async function rate(userId: string, template: string, rating: number) {
		const { rows } = await pool.query<{ id: string }>(
			`INSERT INTO executions (id, source, template_id, version_id, user_id, status)
			 SELECT gen_random_uuid(), 'external', t.id, v.id, $2, 'succeeded' FROM templates t JOIN template_versions v ON v.template_id = t.id
			 WHERE t.id = $1 RETURNING id`,
			[ids[template], userId],
		);
		await pool.query(
			`INSERT INTO feedback (execution_id, template_id, version_id, user_id, rating, idempotency_key)
			 SELECT id, template_id, version_id, user_id, $2, id::text FROM executions WHERE id = $1`,
			[rows[0].id, rating],
		);
	}

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		credentials = { promptLabPostgres: postgresCredential(db.config) };
		for (const [name, category, tags] of [
			['cat-portrait', 'portrait', ['cat', 'studio']],
			['dog-portrait', 'portrait', ['dog', 'studio']],
			['bird-portrait', 'portrait', ['bird']],
			['beach', 'landscape', ['sea']],
			['forest', 'landscape', ['tree']],
		] as const) {
			ids[name] = (await createTemplate(pool, { name, kind: 'image', category, tags: [...tags], firstVersion: { positivePrompt: name } })).template.id;
		}
		for (let u = 0; u < 6; u++) {
			await rate(`pet-${u}`, 'cat-portrait', 5);
			await rate(`pet-${u}`, 'dog-portrait', 5);
			if (u < 3) await rate(`pet-${u}`, 'bird-portrait', 4);
			await rate(`nature-${u}`, 'beach', 5);
			await rate(`nature-${u}`, 'forest', 4);
		}
		await rate('alice', 'cat-portrait', 5);
		await pool.query(
			`INSERT INTO template_stats (version_id, template_id, rating_count, rating_sum, rating_hist)
			 SELECT version_id, template_id, count(*), sum(rating),
			        ARRAY[count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), count(*) FILTER (WHERE rating = 3),
			              count(*) FILTER (WHERE rating = 4), count(*) FILTER (WHERE rating = 5)]
			 FROM feedback GROUP BY version_id, template_id`,
		);
	});
	afterAll(async () => {
		await db.drop();
	});

	function workflow(parameters: Record<string, unknown>, onError?: string): WorkflowFixture {
		return singleNodeWorkflow({ name: 'Recommend', type: TYPE, parameters, onError: onError as 'continueRegularOutput' | 'continueErrorOutput' | undefined });
	}

	async function run(parameters: Record<string, unknown>, input: INodeExecutionData[] = [{ json: {} }], onError?: string) {
		const result = await runWorkflow({ workflow: workflow(parameters, onError), nodeTypes, credentials, input });
		return { ...result, items: result.output('Recommend') };
	}

	test('Refresh Similarities, then For User: one item per recommendation, paired with its user', async () => {
		const refreshed = await run({ operation: 'refreshSimilarities' });
		expect(refreshed.error).toBeUndefined();
		expect(refreshed.items[0].json).toMatchObject({ refreshed: true, templates: 5, parameters: { similarity: 'cooccurrence' } });

		const { items, error } = await run(
			{ operation: 'forUser', userId: '={{ $json.user }}', listLength: 3, options: { refreshIfOlderThanHours: 0 } },
			[{ json: { user: 'alice' } }, { json: { user: 'someone-new' } }],
		);
		expect(error).toBeUndefined();
		const alice = items.filter((i) => i.json.userId === 'alice');
		const newcomer = items.filter((i) => i.json.userId === 'someone-new');
		expect(alice.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 0 }, { item: 0 }]);
		expect(newcomer.map((i) => i.pairedItem)).toEqual([{ item: 1 }, { item: 1 }, { item: 1 }]);
		expect(alice.map((i) => i.json.rank)).toEqual([1, 2, 3]);
		expect(alice[0].json).toMatchObject({ name: 'dog-portrait', strategy: 'personalised', reason: 'similar to "cat-portrait" you rated 5' });
		expect(alice.map((i) => i.json.name)).not.toContain('cat-portrait');
		expect(newcomer.every((i) => i.json.strategy === 'popular')).toBe(true);
	});

	test('Single List returns one item per input with the history; Popular and Similar Templates work with filters', async () => {
		const list = await run({ operation: 'forUser', userId: 'alice', returnAs: 'list', listLength: 4, options: { refreshIfOlderThanHours: 0, maxPerCategory: 0 } });
		expect(list.items).toHaveLength(1);
		const json = list.items[0].json as any;
		expect(json).toMatchObject({ userId: 'alice', strategy: 'personalised', history: { ratedTemplates: 1, likedTemplates: 1 }, count: 4 });
		expect(json.items.map((i: any) => i.rank)).toEqual([1, 2, 3, 4]);

		const popular = await run({ operation: 'popular', listLength: 2, filters: { category: 'landscape' } });
		expect(popular.items.map((i) => i.json.name)).toEqual(['beach', 'forest']);
		expect(popular.items[0].json.reason).toMatch(/^popular: 5\.0★ average over 6 ratings$/);

		const similar = await run({ operation: 'similar', template: { mode: 'name', value: 'dog-portrait' }, listLength: 2, filters: { tags: 'studio, bird' } });
		expect(similar.items[0].json).toMatchObject({ name: 'cat-portrait', strategy: 'similar', similarTo: { name: 'dog-portrait' } });
		expect(similar.items.every((i) => ['cat-portrait', 'bird-portrait'].includes(i.json.name as string))).toBe(true);
	});

	test('with Continue On Fail, bad parameters become error items with code and field, paired with their input', async () => {
		const { items, error } = await run(
			{ operation: 'forUser', userId: '={{ $json.user }}', listLength: '={{ $json.limit }}', options: { refreshIfOlderThanHours: 0 } },
			[
				{ json: { user: 'alice', limit: 1 } },
				{ json: { user: '', limit: 1 } },
				{ json: { user: 'alice', limit: 0 } },
				{ json: { user: 'alice', limit: 2 } },
			],
			'continueRegularOutput',
		);
		expect(error).toBeUndefined();
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }, { item: 3 }]);
		expect(items[0].json.name).toBe('dog-portrait');
		expect(items[1].json).toMatchObject({ error: 'A user ID is required', code: 'field_required', field: 'userId', httpStatus: 400 });
		expect(items[2].json).toMatchObject({ error: 'List length must be 1 or more', code: 'invalid_input', field: 'limit', httpStatus: 400 });

		const bad = await run({ operation: 'similar', template: { mode: 'name', value: 'no-such-template' } }, [{ json: {} }], 'continueRegularOutput');
		expect(bad.items[0].json).toMatchObject({ code: 'template_not_found', field: 'template', httpStatus: 404 });

		const badOption = await run({ operation: 'popular', options: { maxPerCategory: -2 } }, [{ json: {} }], 'continueRegularOutput');
		expect(badOption.items[0].json).toMatchObject({ error: 'Max per category must be 0 or more', code: 'invalid_input', field: 'maxPerCategory' });

		const nul = await run({ operation: 'popular', filters: { category: 'land\u0000scape' } }, [{ json: {} }], 'continueRegularOutput');
		expect(nul.items[0].json).toMatchObject({ code: 'invalid_text', field: 'category', httpStatus: 400 });

		const stopped = await run({ operation: 'forUser', userId: '={{ $json.user }}' }, [{ json: { user: '' } }]);
		expect(stopped.run.status).toBe('error');
		expect(stopped.error?.name).toBe('NodeOperationError');
		expect(stopped.error?.message).toBe('A user ID is required');
		expect((stopped.error as { description?: string }).description).toContain('Check the "User ID" field.');

		// "Continue (using error output)": the failure goes to the error output with its code and field
		const routed = await run({ operation: 'forUser', userId: '={{ $json.user }}', listLength: 1, options: { refreshIfOlderThanHours: 0 } }, [{ json: { user: 'alice' } }, { json: { user: ' ' } }], 'continueErrorOutput');
		expect(routed.error).toBeUndefined();
		expect(routed.output('Recommend', 0).map((i) => i.json.userId)).toEqual(['alice']);
		expect(routed.output('Recommend', 1).map((i) => i.json.error)).toEqual([expect.objectContaining({ code: 'field_required', field: 'userId', httpStatus: 400 })]);
	});
});
