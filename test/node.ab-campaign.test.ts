import type { INodeExecutionData } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getPool } from '../lib/db/pool';
import { createTemplate, createVersion, getTemplate, labelHistory } from '../lib/db/templates';
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

	function workflow(parameters: Record<string, unknown>, onError?: string): WorkflowFixture {
		return singleNodeWorkflow({ name: 'Campaign', type: TYPE, parameters, onError: onError as 'continueRegularOutput' | undefined });
	}

	async function run(parameters: Record<string, unknown>, input: INodeExecutionData[] = [{ json: {} }], onError?: string) {
		const result = await runWorkflow({ workflow: workflow(parameters, onError), nodeTypes, credentials, input });
		return { ...result, items: result.output('Campaign') };
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
		expect((refused.error as { description?: string }).description).toBe('Check the "Force Variant" field.');

		const promoted = await run({ operation: 'promote', campaign: { mode: 'name', value: 'lighting' }, forceVariant: 'B', movedBy: 'ana' });
		expect(promoted.error).toBeUndefined();
		expect(promoted.items[0].json).toMatchObject({ forced: true, winner: { key: 'B' }, labelMove: { label: 'production', fromVersion: 1, toVersion: 2 } });
		const hero = await getTemplate(pool, { name: 'hero' });
		expect((await labelHistory(pool, hero, 'production', 1))[0]).toMatchObject({ reason: 'campaign lighting winner (forced)', movedBy: 'ana' });

		const list = await run({ operation: 'getAll', filters: { status: 'completed' } });
		expect(list.items.map((i) => i.json.name)).toEqual(['lighting']);
		const afterwards = await run(assign, [{ json: { user: 'newcomer' } }]);
		expect(afterwards.items[0].json).toMatchObject({ variantKey: 'B', assignedBy: 'winner', persisted: false });
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
		expect(items[1].json.error).toBe('Invalid parameter: Name: is required');
		expect(items[2].json.error).toBe('Variant 2 ("B"): Template "no-such-template" not found');
		expect(items[2].json.description).toBe('Check the "Variants" field.');
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
		expect(noControl.items[0].json.error).toMatch(/No variant is marked as the control/);
		expect(noControl.items[0].json.description).toBe('Check the "Variants" field.');

		const badSample = await run({ operation: 'create', name: 'bad-sample', variants, minSamplePerVariant: 0 }, [{ json: {} }], 'continueRegularOutput');
		expect(badSample.items[0].json.error).toBe('Invalid parameter: Minimum Sample per Variant: must be at least 1');

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
		expect(assigned.items[1].json).toMatchObject({ error: 'A unit ID (user or client ID) is required to assign a variant', description: 'Check the "Unit ID" field.' });
		expect(assigned.items[2].json).toMatchObject({ error: 'Campaign "missing-campaign" not found', description: 'Check the "Campaign" field.' });
		expect(assigned.items[3].json).toMatchObject({ error: 'Campaign "second-good" is a draft: start it first (operation Start)', description: 'Check the "Campaign" field.' });
	});

	test('without Continue On Fail the first bad item stops the workflow with a NodeOperationError', async () => {
		const { error, run: execution } = await run({ operation: 'assign', campaign: { mode: 'name', value: 'second-good' }, unitId: 'someone' });
		expect(execution.status).toBe('error');
		expect(error?.name).toBe('NodeOperationError');
		expect(error?.message).toMatch(/is a draft: start it first/);
	});
});
