import type { INodeExecutionData } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getPool } from '../lib/db/pool';
import { getTemplate, labelHistory } from '../lib/db/templates';
import { createTemplate, createVersion } from '../lib/templates/manage';
import { AbCampaign } from '../nodes/AbCampaign/AbCampaign.node';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postgresCredential, runWorkflow, type WorkflowFixture, singleNodeWorkflow } from '../dev/n8n-harness';

const TYPE = 'n8n-nodes-promptlab.abCampaign';
const nodeTypes = { [TYPE]: new AbCampaign() };

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON output of n8n items is untyped */

describe('A/B Campaign node in n8n-core WorkflowExecute', () => {
	let db: TestDatabase;
	let pool: Pool;
	let credentials: Record<string, ReturnType<typeof postgresCredential>>;

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		credentials = { promptLabPostgres: postgresCredential(db.config) };
		await createTemplate(pool, { name: 'hero', kind: 'image', firstVersion: { positivePrompt: 'v1' } });
		await createVersion(pool, { name: 'hero' }, { positivePrompt: 'v2' }, ['staging']);
	});
	afterAll(async () => {
		await db.drop();
	});

	type OnError = 'continueRegularOutput' | 'continueErrorOutput';

	function workflow(parameters: Record<string, unknown>, onError?: OnError): WorkflowFixture {
		return singleNodeWorkflow({ name: 'Campaign', type: TYPE, parameters, onError });
	}

	async function run(parameters: Record<string, unknown>, input: INodeExecutionData[] = [{ json: {} }], onError?: OnError) {
		const result = await runWorkflow({ workflow: workflow(parameters, onError), nodeTypes, credentials, input });
		return { ...result, items: result.output('Campaign'), errorItems: result.output('Campaign', 1) };
	}

	const variants = {
		variant: [
			{ key: 'control', template: 'hero', version: 'production', weight: 1, isControl: true },
			{ key: 'B', template: '={{ $json.template ?? "hero" }}', version: '2', weight: 1, isControl: false },
		],
	};

	test('create, start, assign (sticky), results and a forced promotion', async () => {
		const created = await run({ operation: 'create', name: 'lighting', description: 'softer light', variants, minSamplePerVariant: 20 });
		expect(created.error).toBeUndefined();
		const campaign = created.items[0].json as any;
		expect(campaign).toMatchObject({ name: 'lighting', status: 'draft', primaryMetric: 'good_rating_share', mode: 'fixed' });
		expect(campaign.variants.map((v: any) => [v.key, v.version, v.label, v.isControl])).toEqual([
			['control', 1, 'production', true],
			['B', 2, null, false],
		]);

		const started = await run({ operation: 'start', campaign: { mode: 'name', value: 'lighting' } });
		expect((started.items[0].json as any).status).toBe('running');

		const users: INodeExecutionData[] = ['u1', 'u2', 'u3', 'u4'].map((user) => ({ json: { user } }));
		const assign = { operation: 'assign', campaign: { mode: 'id', value: campaign.id }, unitId: '={{ $json.user }}' };
		const first = await run(assign, users);
		expect(first.items.map((i) => [i.json.unitId, i.json.isNew, i.pairedItem])).toEqual([
			['u1', true, { item: 0 }],
			['u2', true, { item: 1 }],
			['u3', true, { item: 2 }],
			['u4', true, { item: 3 }],
		]);
		for (const item of first.items) {
			expect(item.json).toMatchObject({ templateName: 'hero', persisted: true, campaignName: 'lighting' });
			expect(item.json.version).toBe(item.json.variantKey === 'control' ? 1 : 2);
		}
		const again = await run(assign, users);
		expect(again.items.map((i) => i.json.variantId)).toEqual(first.items.map((i) => i.json.variantId));
		expect(again.items.every((i) => i.json.isNew === false)).toBe(true);

		const results = await run({ operation: 'results', campaign: { mode: 'list', value: campaign.id } });
		const r = results.items[0].json as any;
		expect(r.variants.map((v: any) => v.key)).toEqual(['control', 'B']);
		expect(r.variants.reduce((s: number, v: any) => s + v.units, 0)).toBe(4);
		expect(r.decision).toMatchObject({ status: 'keep_running', summary: 'keep running' });
		expect(r.srm).toHaveProperty('pValue');
		expect(r.analysis).toBeUndefined();
		const full = await run({ operation: 'results', campaign: { mode: 'list', value: campaign.id }, options: { includeAnalysis: true } });
		expect((full.items[0].json as any).analysis.primaryMetric).toBe('good_rating_share');

		const refused = await run({ operation: 'promote', campaign: { mode: 'name', value: 'lighting' } });
		expect(refused.error?.message).toMatch(/has no winner to promote/);
		expect((refused.error as { description?: string }).description).toMatch(/force a variant.*\nCheck the "Force Variant" field\.$/);
		const refusedItem = await run({ operation: 'promote', campaign: { mode: 'name', value: 'lighting' } }, [{ json: {} }], 'continueRegularOutput');
		expect(refusedItem.items[0].json).toMatchObject({ code: 'campaign_no_winner', kind: 'conflict', httpStatus: 409, field: 'forceVariant' });

		const promoted = await run({ operation: 'promote', campaign: { mode: 'name', value: 'lighting' }, forceVariant: 'B', movedBy: 'ana' });
		expect(promoted.error).toBeUndefined();
		expect(promoted.items[0].json).toMatchObject({ forced: true, winner: { key: 'B' }, labelMove: { label: 'production', fromVersion: 1, toVersion: 2 } });
		const hero = await getTemplate(pool, { name: 'hero' });
		expect((await labelHistory(pool, hero, 'production', 1))[0]).toMatchObject({ reason: 'campaign lighting winner (forced)', movedBy: 'ana' });

		// the results of the promoted campaign carry its final decision, agreeing with the campaign's status and winner
		const final = (await run({ operation: 'results', campaign: { mode: 'name', value: 'lighting' } })).items[0].json as any;
		expect(final.campaign).toMatchObject({ status: 'completed', winnerVariantKey: 'B' });
		expect(final.decision).toMatchObject({
			status: 'winner',
			winnerVariantKey: 'B',
			final: true,
			forced: true,
			summary: 'completed: B promoted by hand (the statistics said: keep running)',
		});
		expect(final.decision).toEqual((promoted.items[0].json as any).decision);

		const list = await run({ operation: 'getAll', filters: { status: 'completed' } });
		expect(list.items.map((i) => i.json.name)).toEqual(['lighting']);
		const afterwards = await run(assign, [{ json: { user: 'newcomer' } }]);
		expect(afterwards.items[0].json).toMatchObject({ variantKey: 'B', assignedBy: 'winner', persisted: false });
	});

	describe('credential test (the editor shows only "Connection tested successfully" for OK, so what needs action is an Error)', () => {
		const test_ = (data: Record<string, unknown>) =>
			new AbCampaign().methods.credentialTest.promptLabPostgresConnectionTest.call({} as never, { id: '1', name: 'pg', type: 'promptLabPostgres', data } as never);

		test('OK with the server version and the schema state', async () => {
			expect(await test_(credentials.promptLabPostgres)).toEqual({
				status: 'OK',
				message: expect.stringMatching(/^Connected to PostgreSQL \d+[^;]*; schema "promptlab" exists$/),
			});
			expect(await test_({ ...credentials.promptLabPostgres, schema: 'not_yet' })).toEqual({
				status: 'OK',
				message: expect.stringMatching(/; schema "not_yet" will be created on first use$/),
			});
		});

		test('a user who may not set up the schema gets an Error naming the GRANT', async () => {
			const role = `pl_weak_${process.pid}`;
			await pool.query(`CREATE ROLE ${role} LOGIN`);
			try {
				await pool.query(`REVOKE CREATE ON DATABASE ${db.config.database} FROM PUBLIC`);
				expect(await test_({ ...credentials.promptLabPostgres, user: role, password: '' })).toEqual({
					status: 'Error',
					message: `Connected, but user "${role}" may not create schemas in database "${db.config.database}", which the first run needs to set up schema "promptlab" (run GRANT CREATE ON DATABASE ${db.config.database} TO ${role})`,
				});
				await pool.query(`GRANT CREATE ON DATABASE ${db.config.database} TO ${role}`);
				expect(await test_({ ...credentials.promptLabPostgres, user: role, password: '' })).toMatchObject({
					status: 'Error',
					message: expect.stringMatching(/lacks USAGE or CREATE on schema "promptlab" \(run GRANT USAGE, CREATE ON SCHEMA promptlab TO /),
				});
				expect(await test_({ ...credentials.promptLabPostgres, user: role, password: '', schema: 'own_schema' })).toMatchObject({ status: 'OK' });
			} finally {
				await pool.query(`REVOKE ALL ON DATABASE ${db.config.database} FROM ${role}`);
				await pool.query(`DROP ROLE ${role}`);
			}
		});
	});

	test('with Continue On Fail, bad items become error items naming the field, paired with their input', async () => {
		const input: INodeExecutionData[] = [
			{ json: { name: 'good-one', template: 'hero' } },
			{ json: { name: '', template: 'hero' } },
			{ json: { name: 'unknown-template', template: 'no-such-template' } },
			{ json: { name: 'second-good', template: 'hero' } },
		];
		const { items, error } = await run(
			{ operation: 'create', name: '={{ $json.name }}', variants, minSamplePerVariant: 10 },
			input,
			'continueRegularOutput',
		);
		expect(error).toBeUndefined();
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }]);
		expect(items[0].json.name).toBe('good-one');
		expect(items[1].json).toMatchObject({ code: 'field_required', field: 'name', httpStatus: 400, error: 'The campaign name is required' });
		expect(items[2].json).toMatchObject({
			code: 'template_not_found',
			field: 'variants.1.template',
			httpStatus: 404,
			error: 'Variant 2 ("B"): Template "no-such-template" not found',
		});
		expect(items[3].json.name).toBe('second-good');
		const { rows } = await pool.query('SELECT name FROM campaigns WHERE name IN ($1, $2, $3) ORDER BY name', ['good-one', 'second-good', 'unknown-template']);
		expect(rows.map((r) => r.name)).toEqual(['good-one', 'second-good']);

		const noControl = await run(
			{
				operation: 'create',
				name: 'no-control',
				variants: { variant: variants.variant.map((v) => ({ ...v, isControl: false })) },
			},
			[{ json: {} }],
			'continueRegularOutput',
		);
		expect(noControl.items[0].json).toMatchObject({ code: 'invalid_input', field: 'variants', error: expect.stringMatching(/No variant is marked as the control/) });

		const badSample = await run({ operation: 'create', name: 'bad-sample', variants, minSamplePerVariant: 0 }, [{ json: {} }], 'continueRegularOutput');
		expect(badSample.items[0].json).toMatchObject({
			code: 'invalid_input',
			field: 'minSamplePerVariant',
			error: 'The minimum sample per variant must be 1 or more',
		});

		const nulName = await run({ operation: 'create', name: 'spring\u0000sale', variants }, [{ json: {} }], 'continueRegularOutput');
		expect(nulName.items[0].json).toMatchObject({ code: 'invalid_text', field: 'name', httpStatus: 400 });

		await run({ operation: 'start', campaign: { mode: 'name', value: 'good-one' } });
		const assigned = await run(
			{ operation: 'assign', campaign: { mode: 'name', value: '={{ $json.campaign }}' }, unitId: '={{ $json.user }}' },
			[
				{ json: { campaign: 'good-one', user: 'x' } },
				{ json: { campaign: 'good-one', user: '' } },
				{ json: { campaign: 'missing-campaign', user: 'y' } },
				{ json: { campaign: 'second-good', user: 'z' } },
			],
			'continueRegularOutput',
		);
		expect(assigned.items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }]);
		expect(assigned.items[0].json.unitId).toBe('x');
		expect(assigned.items[1].json).toMatchObject({ code: 'field_required', field: 'unitId', httpStatus: 400 });
		expect(assigned.items[2].json).toMatchObject({
			code: 'campaign_not_found',
			kind: 'not_found',
			httpStatus: 404,
			field: 'campaign',
			error: 'Campaign "missing-campaign" not found',
		});
		expect(assigned.items[3].json).toMatchObject({
			code: 'campaign_not_running',
			httpStatus: 409,
			field: 'campaign',
			error: 'Campaign "second-good" is a draft: start it first',
		});
	});

	test('hostile text (NUL) in a unit ID, a campaign name or a search is invalid_text naming the field, and nothing is stored', async () => {
		const before = (await pool.query('SELECT count(*)::int AS n FROM campaign_assignments')).rows[0].n;
		const assigned = await run(
			{ operation: 'assign', campaign: { mode: 'name', value: '={{ $json.campaign }}' }, unitId: '={{ $json.user }}' },
			[{ json: { campaign: 'good-one', user: 'eve\u0000' } }, { json: { campaign: 'good\u0000one', user: 'eve' } }],
			'continueRegularOutput',
		);
		expect(assigned.items[0].json).toMatchObject({ code: 'invalid_text', field: 'unitId', httpStatus: 400 });
		expect(assigned.items[1].json).toMatchObject({ code: 'invalid_text', field: 'campaign.name', httpStatus: 400 });
		expect((await pool.query('SELECT count(*)::int AS n FROM campaign_assignments')).rows[0].n).toBe(before);

		const searched = await run({ operation: 'getAll', filters: { search: 'good\u0000' } }, [{ json: {} }], 'continueRegularOutput');
		expect(searched.items[0].json).toMatchObject({ code: 'invalid_text', field: 'search', httpStatus: 400 });
	});

	test('with "Continue (using error output)" an unknown campaign goes to the error output with its code', async () => {
		const created = await run({ operation: 'create', name: 'routed', variants });
		expect(created.error).toBeUndefined();
		const { items, errorItems, error } = await run(
			{ operation: 'get', campaign: { mode: 'name', value: '={{ $json.campaign }}' } },
			[{ json: { campaign: 'routed' } }, { json: { campaign: 'no-such-campaign' } }],
			'continueErrorOutput',
		);
		expect(error).toBeUndefined();
		expect(items.map((i) => [i.json.name, i.pairedItem])).toEqual([['routed', { item: 0 }]]);
		expect(errorItems).toHaveLength(1);
		expect(errorItems[0].pairedItem).toEqual({ item: 1 });
		expect(errorItems[0].json).toMatchObject({
			campaign: 'no-such-campaign',
			error: { code: 'campaign_not_found', kind: 'not_found', httpStatus: 404, field: 'campaign', message: 'Campaign "no-such-campaign" not found' },
		});
	});

	test('without Continue On Fail the first bad item stops the workflow with a NodeOperationError', async () => {
		const { error, run: execution } = await run({ operation: 'assign', campaign: { mode: 'name', value: 'second-good' }, unitId: 'someone' });
		expect(execution.status).toBe('error');
		expect(error?.name).toBe('NodeOperationError');
		expect(error?.message).toMatch(/is a draft: start it first/);
	});
});
