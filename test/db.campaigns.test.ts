import { randomUUID } from 'node:crypto';

import type { Pool } from 'pg';

import {
	assignUnit,
	completeCampaign,
	computeThompsonAllocation,
	createCampaign,
	getCampaign,
	getCampaignResults,
	listCampaigns,
	pauseCampaign,
	promoteCampaign,
	startCampaign,
	type Campaign,
	type CreateCampaignInput,
} from '../lib/campaigns';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors';
import { finishExecution, startExecution } from '../lib/db/executions';
import { findCampaign, updateCampaignStatus } from '../lib/db/campaigns';
import { getTemplateStats } from '../lib/db/feedback';
import { getPool } from '../lib/db/pool';
import { recordFeedback } from '../lib/feedback';
import { renderWeeklyReportHtml } from '../lib/reports/html';
import { runningCampaigns, weeklyReport } from '../lib/reports/weekly';
import { getTemplate, labelHistory, setArchived, setLabel } from '../lib/db/templates';
import { createTemplate, createVersion } from '../lib/templates/manage';
import { aggregateUnitRatings, analyseCampaign, assignVariant, srmTest, type UnitRatingRow } from '../lib/stats';
import { createTestDatabase, type TestDatabase } from './support/database';

describe('campaigns repository (real Postgres)', () => {
	let db: TestDatabase;
	let pool: Pool;

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		// hero: v1 (production), v2 (staging), v3; portrait: v1 (production)
		await createTemplate(pool, { name: 'hero', kind: 'image', firstVersion: { positivePrompt: 'hero v1' } });
		await createVersion(pool, { name: 'hero' }, { positivePrompt: 'hero v2' }, ['staging']);
		await createVersion(pool, { name: 'hero' }, { positivePrompt: 'hero v3' });
		await createTemplate(pool, { name: 'portrait', kind: 'image', firstVersion: { positivePrompt: 'portrait v1' } });
	});
	afterAll(async () => {
		await db.drop();
	});

	let counter = 0;
	function spec(overrides: Partial<CreateCampaignInput> = {}): CreateCampaignInput {
		counter++;
		return {
			name: `campaign ${counter}`,
			variants: [
				{ key: 'control', template: { name: 'hero' }, label: 'production', weight: 1, isControl: true },
				{ key: 'B', template: { name: 'hero' }, label: 'staging', weight: 1, isControl: false },
			],
			minSamplePerVariant: 50,
			...overrides,
		};
	}

	async function rowCounts() {
		const { rows } = await pool.query(
			'SELECT (SELECT count(*) FROM campaigns)::int AS campaigns, (SELECT count(*) FROM campaign_variants)::int AS variants',
		);
		return rows[0] as { campaigns: number; variants: number };
	}

	async function running(overrides: Partial<CreateCampaignInput> = {}): Promise<Campaign> {
		const created = await createCampaign(pool, spec(overrides));
		return startCampaign(pool, { campaign: { id: created.id } });
	}

	describe('create', () => {
		test('resolves labels to versions, keeps the label for display and generates a seed', async () => {
			const campaign = await createCampaign(pool, {
				...spec(),
				description: 'softer light',
				variants: [
					{ key: 'control', template: { name: 'hero' }, label: 'production', weight: 2, isControl: true },
					{ key: 'B', template: { name: 'HERO' }, label: 'staging', weight: 1, isControl: false },
					{ key: 'C', template: { name: 'hero' }, version: 3, weight: 1, isControl: false },
				],
			});
			expect(campaign.status).toBe('draft');
			expect(campaign.seed).toMatch(/^[0-9a-f]{24}$/);
			expect(campaign.primaryMetric).toBe('good_rating_share');
			expect(campaign.variants.map((v) => [v.key, v.version, v.label, v.weight, v.isControl, v.templateName])).toEqual([
				['control', 1, 'production', 2, true, 'hero'],
				['B', 2, 'staging', 1, false, 'hero'],
				['C', 3, null, 1, false, 'hero'],
			]);
			// a label moved later does not change the pinned version
			expect((await getCampaign(pool, { campaign: { name: campaign.name.toUpperCase() } })).variants[1].versionId).toBe(campaign.variants[1].versionId);
		});

		const hero = { name: 'hero' };
		test.each([
			[
				'no control',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: false }, { key: 'B', template: hero, weight: 1, isControl: false }] },
				{ code: 'invalid_input', field: 'variants', message: expect.stringMatching(/No variant is marked as the control/) },
			],
			[
				'two controls',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'B', template: hero, weight: 1, isControl: true }] },
				{ code: 'invalid_input', field: 'variants', message: expect.stringMatching(/2 variants are marked as the control \("A", "B"\)/) },
			],
			[
				'a negative weight',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'B', template: hero, weight: -1, isControl: false }] },
				{ code: 'invalid_input', field: 'variants.1.weight', message: expect.stringMatching(/^Variant 2 \("B"\): The weight must be 0 or more/) },
			],
			[
				'a weight that is not a number',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'B', template: hero, weight: Number.NaN, isControl: false }] },
				{ code: 'invalid_input', field: 'variants.1.weight' },
			],
			[
				'all weights zero',
				{ variants: [{ key: 'A', template: hero, weight: 0, isControl: true }, { key: 'B', template: hero, weight: 0, isControl: false }] },
				{ code: 'invalid_input', field: 'variants', message: expect.stringMatching(/All variant weights are 0/) },
			],
			[
				'a control without traffic',
				{ variants: [{ key: 'A', template: hero, weight: 0, isControl: true }, { key: 'B', template: hero, weight: 1, isControl: false }] },
				{ code: 'invalid_input', field: 'variants.0.weight', message: expect.stringMatching(/The control "A" has weight 0/) },
			],
			['one variant', { variants: [{ key: 'A', template: hero, weight: 1, isControl: true }] }, { code: 'invalid_input', field: 'variants', message: expect.stringMatching(/at least two variants/) }],
			['no variants at all', { variants: undefined }, { code: 'field_required', field: 'variants' }],
			[
				'duplicate keys',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'a', template: hero, weight: 1, isControl: false }] },
				{ code: 'invalid_input', field: 'variants.1.key', message: expect.stringMatching(/^Variant 2 \("a"\): Key "a" is used twice/) },
			],
			[
				'a key with a space',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'new one', template: hero, weight: 1, isControl: false }] },
				{ code: 'invalid_input', field: 'variants.1.key' },
			],
			[
				'a template name with a NUL character',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'B', template: { name: 'he\u0000ro' }, weight: 1, isControl: false }] },
				{ code: 'invalid_text', field: 'variants.1.template.name' },
			],
			[
				'a variant without template',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'B', template: { name: ' ' }, weight: 1, isControl: false }] },
				{ code: 'field_required', field: 'variants.1.template' },
			],
			[
				'a label that cannot exist',
				{ variants: [{ key: 'A', template: hero, weight: 1, isControl: true }, { key: 'B', template: hero, label: 'Not A Label!', weight: 1, isControl: false }] },
				{ code: 'invalid_input', field: 'variants.1.label' },
			],
			['an empty name', { name: '   ' }, { code: 'field_required', field: 'name' }],
			['a name with a NUL character', { name: 'spring\u0000sale' }, { code: 'invalid_text', field: 'name' }],
			['a name of 201 characters', { name: 'x'.repeat(201) }, { code: 'text_too_long', field: 'name' }],
			['a description with a lone surrogate', { description: 'soft \uD800 light' }, { code: 'invalid_text', field: 'description' }],
			['an unknown primary metric', { primaryMetric: 'clicks' as never }, { code: 'invalid_input', field: 'primaryMetric' }],
			['a minimum sample of 0', { minSamplePerVariant: 0 }, { code: 'invalid_input', field: 'minSamplePerVariant' }],
			['an unknown mode', { mode: 'epsilon' as never }, { code: 'invalid_input', field: 'mode' }],
			[
				'a Thompson floor above 1/n',
				{ mode: 'thompson' as const, thompsonFloor: 0.6 },
				{ code: 'invalid_input', field: 'thompsonFloor', message: expect.stringMatching(/between 0 and 1\/2/) },
			],
		])('%s is a ValidationError naming the field, and nothing is written', async (_case, overrides, expected) => {
			const before = await rowCounts();
			const error = await createCampaign(pool, spec(overrides as Partial<CreateCampaignInput>)).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(ValidationError);
			expect(error).toMatchObject({ ...expected, httpStatus: 400 });
			expect(await rowCounts()).toEqual(before);
		});

		test('an unknown template, version or label names the variant, and the transaction leaves nothing behind', async () => {
			const before = await rowCounts();
			const withB = (b: CreateCampaignInput['variants'][number]) =>
				spec({ variants: [{ key: 'control', template: { name: 'hero' }, weight: 1, isControl: true }, b] });
			const unknownTemplate = await createCampaign(pool, withB({ key: 'B', template: { name: 'no-such-template' }, weight: 1 })).catch((e: unknown) => e);
			expect(unknownTemplate).toBeInstanceOf(NotFoundError);
			expect(unknownTemplate).toMatchObject({
				code: 'template_not_found',
				field: 'variants.1.template',
				httpStatus: 404,
				message: expect.stringMatching(/^Variant 2 \("B"\): Template "no-such-template" not found/),
			});
			await expect(createCampaign(pool, withB({ key: 'B', template: { id: '00000000-0000-4000-8000-000000000000' }, weight: 1 }))).rejects.toMatchObject({
				code: 'template_not_found',
				field: 'variants.1.template',
			});
			await expect(createCampaign(pool, withB({ key: 'B', template: { name: 'hero' }, version: 9, weight: 1 }))).rejects.toMatchObject({
				code: 'version_not_found',
				field: 'variants.1.version',
				message: expect.stringMatching(/^Variant 2 \("B"\): Template "hero" has no version 9/),
			});
			await expect(createCampaign(pool, withB({ key: 'B', template: { name: 'portrait' }, label: 'staging', weight: 1 }))).rejects.toMatchObject({
				code: 'label_not_found',
				field: 'variants.1.label',
				message: expect.stringMatching(/^Variant 2 \("B"\): Template "portrait" has no label "staging"/),
			});
			await createTemplate(pool, { name: 'retired', kind: 'image', firstVersion: { positivePrompt: 'old' } });
			await setArchived(pool, { name: 'retired' }, true);
			await expect(createCampaign(pool, withB({ key: 'B', template: { name: 'retired' }, weight: 1 }))).rejects.toMatchObject({
				code: 'template_archived',
				field: 'variants.1.template',
				httpStatus: 409,
				message: expect.stringMatching(/^Variant 2 \("B"\): Template "retired" is archived/),
			});
			expect(await rowCounts()).toEqual(before);
		});

		test('a name taken (in any letter case) is campaign_name_taken, a conflict', async () => {
			const first = await createCampaign(pool, spec());
			const error = await createCampaign(pool, { ...spec(), name: first.name.toUpperCase() }).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(ConflictError);
			expect(error).toMatchObject({ code: 'campaign_name_taken', field: 'name', httpStatus: 409 });
		});
	});

	describe('lifecycle and listing', () => {
		test('start, pause, complete; completed cannot restart; Get Many filters by status', async () => {
			const created = await createCampaign(pool, spec());
			expect((await startCampaign(pool, { campaign: { id: created.id } })).status).toBe('running');
			expect((await startCampaign(pool, { campaign: { id: created.id } })).status).toBe('running'); // repeat is harmless
			const paused = await pauseCampaign(pool, { campaign: { name: created.name } });
			expect(paused.status).toBe('paused');
			expect(paused.startedAt).not.toBeNull();
			await expect(pauseCampaign(pool, { campaign: { id: created.id } })).resolves.toMatchObject({ status: 'paused' });
			const completed = await completeCampaign(pool, { campaign: { id: created.id } });
			expect(completed.status).toBe('completed');
			expect(completed.completedAt).not.toBeNull();
			await expect(startCampaign(pool, { campaign: { id: created.id } })).rejects.toMatchObject({
				code: 'campaign_state_invalid',
				field: 'campaign',
				httpStatus: 409,
				message: expect.stringMatching(/completed and cannot be restarted/),
			});
			const draft = await createCampaign(pool, spec());
			await expect(pauseCampaign(pool, { campaign: { id: draft.id } })).rejects.toMatchObject({
				code: 'campaign_state_invalid',
				message: expect.stringMatching(/only a running campaign can be paused/),
			});

			const completedList = await listCampaigns(pool, { status: 'completed', limit: 100 });
			expect(completedList.items.map((c) => c.id)).toContain(created.id);
			expect(completedList.items.every((c) => c.status === 'completed')).toBe(true);
			const drafts = await listCampaigns(pool, { status: 'draft', limit: 100 });
			expect(drafts.items.map((c) => c.id)).toContain(draft.id);
			expect(drafts.items.map((c) => c.id)).not.toContain(created.id);
		});

		test('an unknown campaign is campaign_not_found (by name, by ID, or by an ID that is no UUID); no campaign at all is field_required', async () => {
			for (const campaign of [{ name: 'nope' }, { id: '00000000-0000-4000-8000-000000000000' }, { id: 'not-a-uuid' }]) {
				const error = await getCampaign(pool, { campaign }).catch((e: unknown) => e);
				expect(error).toBeInstanceOf(NotFoundError);
				expect(error).toMatchObject({ code: 'campaign_not_found', field: 'campaign', httpStatus: 404 });
			}
			await expect(getCampaign(pool, { campaign: { name: 'nope' } })).rejects.toThrow(/Campaign "nope" not found/);
			await expect(startCampaign(pool, { campaign: { name: 'nope' } })).rejects.toMatchObject({ code: 'campaign_not_found' });
			await expect(getCampaign(pool, { campaign: { name: '  ' } })).rejects.toMatchObject({ code: 'field_required', field: 'campaign' });
			await expect(getCampaign(pool, {} as never)).rejects.toMatchObject({ code: 'field_required', field: 'campaign' });
			await expect(getCampaign(pool, { campaign: { name: 'x\u0000' } })).rejects.toMatchObject({ code: 'invalid_text', field: 'campaign.name' });
		});

		test('Get Many searches literally, sorts by whitelisted fields only, and refuses bad text', async () => {
			const a = await createCampaign(pool, spec({ name: 'zz sort 100% off', description: 'under_score' }));
			const b = await createCampaign(pool, spec({ name: 'aa sort plain' }));
			expect((await listCampaigns(pool, { search: '100%' })).items.map((c) => c.id)).toEqual([a.id]);
			expect((await listCampaigns(pool, { search: 'under_' })).items.map((c) => c.id)).toEqual([a.id]);
			const byName = await listCampaigns(pool, { search: ' sort ', sortBy: 'name', sortOrder: 'asc' });
			expect(byName.items.map((c) => c.id)).toEqual([b.id, a.id]);
			const newestFirst = await listCampaigns(pool, { search: ' sort ' });
			expect(newestFirst.items.map((c) => c.id)).toEqual([b.id, a.id]);
			const page = await listCampaigns(pool, { search: ' sort ', sortBy: 'name', limit: 1 });
			expect(page).toMatchObject({ total: 2, nextOffset: 1 });

			await expect(listCampaigns(pool, { search: 'sale\u0000' })).rejects.toMatchObject({ code: 'invalid_text', field: 'search', httpStatus: 400 });
			await expect(listCampaigns(pool, { sortBy: 'c.id; DROP TABLE campaigns' as never })).rejects.toMatchObject({ code: 'invalid_input', field: 'sortBy' });
			await expect(listCampaigns(pool, { status: 'archived' as never })).rejects.toMatchObject({ code: 'invalid_input', field: 'status' });
			await expect(listCampaigns(pool, { limit: 0 })).rejects.toMatchObject({ code: 'invalid_input', field: 'limit' });
		});
	});

	describe('assignment', () => {
		test('a draft campaign refuses to assign: start it first', async () => {
			const draft = await createCampaign(pool, spec());
			const error = await assignUnit(pool, { campaign: { id: draft.id }, unitId: 'user-1' }).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(ConflictError);
			expect(error).toMatchObject({ code: 'campaign_not_running', field: 'campaign', httpStatus: 409, message: expect.stringMatching(/is a draft: start it first/) });
			const { rows } = await pool.query('SELECT count(*)::int AS n FROM campaign_assignments WHERE campaign_id = $1', [draft.id]);
			expect(rows[0].n).toBe(0);
		});

		test('the unit ID is required text: blank, NUL, lone surrogates and overlong IDs are refused naming unitId; numbers are taken as text', async () => {
			const campaign = await running();
			for (const [unitId, code] of [
				['  ', 'field_required'],
				[undefined, 'field_required'],
				['user\u0000-1', 'invalid_text'],
				['user-\uDC00', 'invalid_text'],
				['user-\uFFFD', 'invalid_text'],
				['u'.repeat(501), 'text_too_long'],
				[{ id: 1 }, 'invalid_input'],
			] as const) {
				const error = await assignUnit(pool, { campaign: { id: campaign.id }, unitId: unitId as never }).catch((e: unknown) => e);
				expect(error).toBeInstanceOf(ValidationError);
				expect(error).toMatchObject({ code, field: 'unitId', httpStatus: 400 });
			}
			const { rows } = await pool.query('SELECT count(*)::int AS n FROM campaign_assignments WHERE campaign_id = $1', [campaign.id]);
			expect(rows[0].n).toBe(0);
			const numeric = await assignUnit(pool, { campaign: { id: campaign.id }, unitId: 42 });
			expect(numeric).toMatchObject({ unitId: '42', isNew: true });
			expect(await assignUnit(pool, { campaign: { id: campaign.id }, unitId: ' 42 ' })).toMatchObject({ unitId: '42', variantId: numeric.variantId, isNew: false });
			await expect(assignUnit(pool, { campaign: { name: 'missing' }, unitId: 'x' })).rejects.toMatchObject({ code: 'campaign_not_found', field: 'campaign' });
		});

		test('the same unit always gets the same variant, across calls and across two pools (two workers)', async () => {
			const campaign = await running();
			const otherWorker = await getPool({ ...db.config, maxPoolSize: 3 }); // another pg.Pool, as in another process
			expect(otherWorker).not.toBe(pool);
			for (const unit of ['alice', 'bob', 'carol', 'dave', 'erin']) {
				const first = await assignUnit(pool, { campaign: { id: campaign.id }, unitId: unit });
				expect(first.isNew).toBe(true);
				expect(first.persisted).toBe(true);
				const expectedIndex = assignVariant(campaign.seed, unit, [1, 1]);
				expect(first.variantKey).toBe(campaign.variants[expectedIndex].key);
				for (const worker of [pool, otherWorker, pool]) {
					const again = await assignUnit(worker, { campaign: { name: campaign.name }, unitId: unit });
					expect(again).toMatchObject({ variantId: first.variantId, isNew: false, persisted: true });
				}
				expect(first).toMatchObject({
					templateName: 'hero',
					version: first.variantKey === 'control' ? 1 : 2,
					label: first.variantKey === 'control' ? 'production' : 'staging',
					isControl: first.variantKey === 'control',
				});
			}
			const { rows } = await pool.query('SELECT count(*)::int AS n FROM campaign_assignments WHERE campaign_id = $1', [campaign.id]);
			expect(rows[0].n).toBe(5);
		});

		test('50 concurrent assignments of one unit store one row and all agree', async () => {
			const campaign = await running();
			const otherWorker = await getPool({ ...db.config, maxPoolSize: 4 });
			const answers = await Promise.all(
				Array.from({ length: 50 }, (_, i) => assignUnit(i % 2 ? pool : otherWorker, { campaign: { id: campaign.id }, unitId: 'racer' })),
			);
			expect(new Set(answers.map((a) => a.variantId)).size).toBe(1);
			expect(answers.filter((a) => a.isNew)).toHaveLength(1);
			const { rows } = await pool.query('SELECT variant_id FROM campaign_assignments WHERE campaign_id = $1', [campaign.id]);
			expect(rows).toEqual([{ variant_id: answers[0].variantId }]);
		});

		test('the hash splits 100,000 ids in proportion to the weights (SRM passes)', () => {
			const weights = [1, 1, 2];
			const counts = [0, 0, 0];
			for (let i = 0; i < 100_000; i++) counts[assignVariant('proportion-seed', `user-${i}`, weights)]++;
			expect(counts[0] / 100_000).toBeCloseTo(0.25, 2);
			expect(counts[2] / 100_000).toBeCloseTo(0.5, 2);
			expect(srmTest(counts, weights).alert).toBe(false);
			expect(srmTest(counts, weights).pValue).toBeGreaterThan(0.001);
		});

		test('5,000 persisted assignments follow the weights and match the hash exactly', async () => {
			const campaign = await running({
				seed: 'db-proportions',
				variants: [
					{ key: 'control', template: { name: 'hero' }, weight: 3, isControl: true },
					{ key: 'B', template: { name: 'hero' }, version: 2, weight: 1, isControl: false },
					{ key: 'off', template: { name: 'hero' }, version: 3, weight: 0, isControl: false },
				],
			});
			const units = Array.from({ length: 5000 }, (_, i) => `u${i}`);
			for (let i = 0; i < units.length; i += 25) {
				await Promise.all(units.slice(i, i + 25).map((u) => assignUnit(pool, { campaign: { id: campaign.id }, unitId: u })));
			}
			const { rows } = await pool.query<{ key: string; n: number }>(
				`SELECT v.key, count(a.unit_id)::int AS n FROM campaign_variants v LEFT JOIN campaign_assignments a ON a.variant_id = v.id
				 WHERE v.campaign_id = $1 GROUP BY v.key, v.position ORDER BY v.position`,
				[campaign.id],
			);
			const expected = [0, 0, 0];
			for (const u of units) expected[assignVariant('db-proportions', u, [3, 1, 0])]++;
			expect(rows.map((r) => r.n)).toEqual(expected);
			expect(rows[2].n).toBe(0); // weight 0 is never assigned
			expect(rows[0].n / 5000).toBeGreaterThan(0.72);
			expect(rows[0].n / 5000).toBeLessThan(0.78);
			const results = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			expect(results.srm.alert).toBe(false);
			expect(results.variants.map((v) => v.units)).toEqual(expected);
		});

		test('a paused campaign answers with the control without persisting; a completed one too', async () => {
			const campaign = await running();
			const before = await assignUnit(pool, { campaign: { id: campaign.id }, unitId: 'early-user' });
			await pauseCampaign(pool, { campaign: { id: campaign.id } });
			for (const unit of ['early-user', 'late-user', 'another']) {
				const answer = await assignUnit(pool, { campaign: { id: campaign.id }, unitId: unit });
				expect(answer).toMatchObject({ variantKey: 'control', isControl: true, persisted: false, isNew: false, assignedBy: 'control', campaignStatus: 'paused' });
			}
			const { rows } = await pool.query('SELECT unit_id FROM campaign_assignments WHERE campaign_id = $1', [campaign.id]);
			expect(rows).toEqual([{ unit_id: 'early-user' }]);
			await startCampaign(pool, { campaign: { id: campaign.id } });
			expect((await assignUnit(pool, { campaign: { id: campaign.id }, unitId: 'early-user' })).variantId).toBe(before.variantId); // still sticky
			await completeCampaign(pool, { campaign: { id: campaign.id } });
			expect(await assignUnit(pool, { campaign: { id: campaign.id }, unitId: 'late-user' })).toMatchObject({ variantKey: 'control', persisted: false });
		});
	});

	/** Seeds the aggregate tables the way Record Feedback would leave them. */
	async function seedVariant(
		campaign: Campaign,
		key: string,
		data: { units: number; unitRows: UnitRatingRow[]; executions?: number; succeeded?: number; failed?: number; durationMsSum?: number },
	) {
		const variant = campaign.variants.find((v) => v.key === key)!;
		await pool.query(
			`INSERT INTO campaign_assignments (campaign_id, unit_id, variant_id) SELECT $1, $2 || g, $3 FROM generate_series(1, $4) g`,
			[campaign.id, `${key}-unit-`, variant.id, data.units],
		);
		await pool.query(
			`INSERT INTO campaign_unit_stats (campaign_id, unit_id, variant_id, rating_count, rating_sum, good_count)
			 SELECT $1, $2 || r.n, $3, r.c, r.s, r.g FROM unnest($4::int[], $5::int[], $6::int[]) WITH ORDINALITY AS r(c, s, g, n)`,
			[campaign.id, `${key}-unit-`, variant.id, data.unitRows.map((r) => r.ratingCount), data.unitRows.map((r) => r.ratingSum), data.unitRows.map((r) => r.goodCount)],
		);
		const ratingCount = data.unitRows.reduce((s, r) => s + r.ratingCount, 0);
		const ratingSum = data.unitRows.reduce((s, r) => s + r.ratingSum, 0);
		const goodCount = data.unitRows.reduce((s, r) => s + r.goodCount, 0);
		const succeeded = data.succeeded ?? data.units;
		const failed = data.failed ?? 0;
		await pool.query(
			`INSERT INTO campaign_variant_stats (variant_id, campaign_id, executions, succeeded, failed, duration_ms_sum, duration_count,
				rating_count, rating_sum, rating_sum_sq, good_count)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10)`,
			[variant.id, campaign.id, data.executions ?? succeeded + failed + 3, succeeded, failed, data.durationMsSum ?? 0, succeeded + failed, ratingCount, ratingSum, goodCount],
		);
		return { ratingCount, ratingSum, goodCount, succeeded, failed };
	}

	/** Per-unit rating rows: `good` share of rated units liked it (ratings 4–5), the rest did not. */
	function unitRows(rated: number, goodShare: number, salt: number): UnitRatingRow[] {
		return Array.from({ length: rated }, (_, i) => {
			const count = 1 + ((i * 7 + salt) % 3);
			const good = i < Math.round(rated * goodShare) ? count - ((i + salt) % 4 === 0 ? 1 : 0) : (i + salt) % 5 === 0 ? 1 : 0;
			const sum = good * 5 - ((i + salt) % 2) * Math.min(good, 1) + (count - good) * (1 + ((i + salt) % 3));
			return { ratingCount: count, ratingSum: sum, goodCount: good };
		});
	}

	describe('results', () => {
		test('the numbers equal an independent recomputation through lib/stats', async () => {
			const campaign = await running({ minSamplePerVariant: 100 });
			const controlRows = unitRows(700, 0.5, 1);
			const bRows = unitRows(720, 0.62, 2);
			const c = await seedVariant(campaign, 'control', { units: 1000, unitRows: controlRows, succeeded: 1900, failed: 100, durationMsSum: 2000 * 1500 });
			const b = await seedVariant(campaign, 'B', { units: 1010, unitRows: bRows, succeeded: 1950, failed: 60, durationMsSum: 2010 * 1700 });

			const results = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			const expected = analyseCampaign({
				primaryMetric: 'good_rating_share',
				minSamplePerVariant: 100,
				variants: [
					{ id: campaign.variants[0].id, key: 'control', isControl: true, weight: 1, units: 1000, ...aggregateUnitRatings(controlRows), executions: 2000, succeeded: 1900 },
					{ id: campaign.variants[1].id, key: 'B', isControl: false, weight: 1, units: 1010, ...aggregateUnitRatings(bRows), executions: 2010, succeeded: 1950 },
				],
			});
			const [rc, rb] = results.variants;
			expect(rc.units).toBe(1000);
			expect(rb.units).toBe(1010);
			expect(rc.ratedUnits).toBe(700);
			expect(rc.ratedShare).toBeCloseTo(0.7, 12);
			expect(rc.executions).toBe(2003); // started, incl. 3 still running
			expect(rc.finishedExecutions).toBe(2000);
			expect(rc).toMatchObject({ succeeded: 1900, failed: 100 });
			expect(rc.successRate.value).toBeCloseTo(0.95, 12);
			expect(rc.meanDurationMs).toBeCloseTo(1500, 9);
			expect(rb.meanDurationMs).toBeCloseTo(1700, 9);
			expect(rc.ratings.count).toBe(c.ratingCount);
			expect(rb.ratings.mean).toBeCloseTo(b.ratingSum / b.ratingCount, 12);
			for (const [i, r] of [rc, rb].entries()) {
				const e = expected.variants[i];
				expect(r.goodRatingShare.value).toBeCloseTo(e.metrics.good_rating_share.value!, 10);
				expect(r.goodRatingShare.ci![0]).toBeCloseTo(e.metrics.good_rating_share.ci![0], 10);
				expect(r.meanRating.value).toBeCloseTo(e.metrics.mean_rating.value!, 10);
				expect(r.meanRating.ci![1]).toBeCloseTo(e.metrics.mean_rating.ci![1], 10);
			}
			const cmp = expected.variants[1].metrics.good_rating_share.vsControl!;
			expect(rb.vsControl!.chanceToBeatControl).toBeCloseTo(cmp.chanceToBeatControl, 10);
			expect(rb.vsControl!.expectedLoss).toBeCloseTo(cmp.expectedLoss, 10);
			expect(rb.vsControl!.pValue).toBeCloseTo(cmp.pValue, 10);
			expect(rc.vsControl).toBeNull();
			expect(results.srm.pValue).toBeCloseTo(expected.srm.pValue, 10);
			expect(results.decision.status).toBe(expected.decision.status);
			expect(results.decision.status).toBe('winner');
			expect(results.decision.winnerVariantKey).toBe('B');
			expect(results.decision.summary).toBe('B wins');
		});

		test('a planted sample-ratio mismatch raises the SRM alert and blocks the winner; promote refuses', async () => {
			const campaign = await running();
			await seedVariant(campaign, 'control', { units: 1000, unitRows: unitRows(700, 0.4, 3) });
			await seedVariant(campaign, 'B', { units: 1300, unitRows: unitRows(900, 0.7, 4) });
			const results = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			expect(results.srm.alert).toBe(true);
			expect(results.srm.pValue).toBeLessThan(0.001);
			expect(results.decision.status).toBe('srm_alert');
			expect(results.decision.winnerVariantId).toBeNull();
			expect(results.decision.reasons[0]).toMatch(/sample ratio mismatch/);
			// B is far better on the metric, but nothing is trusted
			expect(results.variants[1].goodRatingShare.value!).toBeGreaterThan(results.variants[0].goodRatingShare.value! + 0.2);
			await expect(promoteCampaign(pool, { campaign: { id: campaign.id } })).rejects.toMatchObject({
				code: 'campaign_no_winner',
				field: 'forceVariant',
				httpStatus: 409,
				message: expect.stringMatching(/has no winner to promote \(decision: sample ratio mismatch/),
			});
		});

		test('too few rated units keeps the campaign running', async () => {
			const campaign = await running({ minSamplePerVariant: 500 });
			await seedVariant(campaign, 'control', { units: 600, unitRows: unitRows(300, 0.4, 5) });
			await seedVariant(campaign, 'B', { units: 600, unitRows: unitRows(310, 0.8, 6) });
			const results = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			expect(results.decision.status).toBe('keep_running');
			expect(results.decision.summary).toBe('keep running');
			expect(results.variants.every((v) => !v.meetsMinimumSample)).toBe(true);
		});
	});

	describe('promotion', () => {
		test('moves the production label to the winning version (in label history), records the winner and completes', async () => {
			const campaign = await running();
			await seedVariant(campaign, 'control', { units: 1000, unitRows: unitRows(700, 0.45, 7) });
			await seedVariant(campaign, 'B', { units: 1000, unitRows: unitRows(700, 0.62, 8) });
			const hero = await getTemplate(pool, { name: 'hero' });
			expect(hero.labels.production).toBe(1);

			const promotion = await promoteCampaign(pool, { campaign: { id: campaign.id }, movedBy: 'ana' });
			expect(promotion.winner.key).toBe('B');
			expect(promotion.forced).toBe(false);
			expect(promotion.labelMove).toMatchObject({ label: 'production', fromVersion: 1, toVersion: 2, templateName: 'hero' });
			expect(promotion.campaign).toMatchObject({ status: 'completed', winnerVariantKey: 'B', winnerVariantId: promotion.winner.id });

			const history = await labelHistory(pool, hero, 'production', 1);
			expect(history[0]).toMatchObject({ fromVersion: 1, toVersion: 2, movedBy: 'ana', reason: `campaign ${campaign.name} winner` });
			expect((await getTemplate(pool, { name: 'hero' })).labels.production).toBe(2);

			// after promotion every unit gets the winner, nothing more is stored
			const answer = await assignUnit(pool, { campaign: { id: campaign.id }, unitId: 'someone-new' });
			expect(answer).toMatchObject({ variantKey: 'B', assignedBy: 'winner', persisted: false, version: 2 });
			await expect(promoteCampaign(pool, { campaign: { id: campaign.id } })).rejects.toMatchObject({
				code: 'campaign_not_running',
				field: 'campaign',
				message: expect.stringMatching(/already promoted \(winner: B\)/),
			});

			// put production back for the other tests
			await setLabel(pool, { name: 'hero' }, 'production', 1, { reason: 'test reset' });
		});

		test('refuses without a winner, and a forced variant key overrides (named in the reason)', async () => {
			const campaign = await running({
				variants: [
					{ key: 'control', template: { name: 'portrait' }, weight: 1, isControl: true },
					{ key: 'B', template: { name: 'hero' }, version: 3, weight: 1, isControl: false },
				],
			});
			await seedVariant(campaign, 'control', { units: 200, unitRows: unitRows(150, 0.5, 9) });
			await seedVariant(campaign, 'B', { units: 205, unitRows: unitRows(150, 0.5, 9) });
			const movesBefore = (await pool.query('SELECT count(*)::int AS n FROM template_label_history')).rows[0].n;
			const draft = await createCampaign(pool, spec());
			await expect(promoteCampaign(pool, { campaign: { id: draft.id }, forceVariant: 'B' })).rejects.toMatchObject({
				code: 'campaign_not_running',
				field: 'campaign',
				message: expect.stringMatching(/is a draft and has no results to promote/),
			});
			await expect(promoteCampaign(pool, { campaign: { id: campaign.id } })).rejects.toMatchObject({
				code: 'campaign_no_winner',
				field: 'forceVariant',
				message: expect.stringMatching(/has no winner to promote/),
				hint: expect.stringMatching(/force a variant/),
			});
			await expect(promoteCampaign(pool, { campaign: { id: campaign.id }, forceVariant: 'Z' })).rejects.toMatchObject({
				code: 'variant_not_found',
				field: 'forceVariant',
				httpStatus: 404,
				message: expect.stringMatching(/has no variant "Z" \(variants: control, B\)/),
				details: { variants: ['control', 'B'] },
			});
			await expect(promoteCampaign(pool, { campaign: { id: campaign.id }, forceVariant: 'b', label: 'Prod!' })).rejects.toMatchObject({
				code: 'invalid_input',
				field: 'label',
			});
			await expect(promoteCampaign(pool, { campaign: { id: campaign.id }, forceVariant: 'b', movedBy: 'ana\u0000' })).rejects.toMatchObject({
				code: 'invalid_text',
				field: 'movedBy',
			});
			expect((await pool.query('SELECT count(*)::int AS n FROM template_label_history')).rows[0].n).toBe(movesBefore);
			expect((await getCampaign(pool, { campaign: { id: campaign.id } })).status).toBe('running');

			const forced = await promoteCampaign(pool, { campaign: { id: campaign.id }, forceVariant: 'b' });
			expect(forced).toMatchObject({ forced: true, winner: { key: 'B' }, labelMove: { templateName: 'hero', toVersion: 3 } });
			const hero = await getTemplate(pool, { name: 'hero' });
			expect((await labelHistory(pool, hero, 'production', 1))[0].reason).toBe(`campaign ${campaign.name} winner (forced)`);
			await setLabel(pool, { name: 'hero' }, 'production', 1, { reason: 'test reset' });
		});
	});

	describe('Thompson sampling mode', () => {
		test('the allocation keeps the configured split during burn-in, then favours the better arm with the floor', () => {
			const campaign = {
				variants: [{ weight: 1 }, { weight: 1 }, { weight: 0 }] as Campaign['variants'],
				thompsonFloor: 0.1,
				minSamplePerVariant: 1000,
				seed: 's',
			};
			const arms = (t: number[], s: number[]) => t.map((trials, i) => ({ variantId: String(i), trials, successes: s[i] }));
			expect(computeThompsonAllocation(campaign, arms([50, 50, 0], [10, 40, 0]), 0)).toEqual([0.5, 0.5, 0]);
			const adapted = computeThompsonAllocation(campaign, arms([400, 400, 0], [160, 240, 0]), 1);
			expect(adapted[2]).toBe(0);
			expect(adapted[1]).toBeGreaterThan(0.85);
			expect(adapted[0]).toBeGreaterThanOrEqual(0.1 - 1e-12);
			expect(adapted[0] + adapted[1]).toBeCloseTo(1, 12);
			// deterministic for the same history: every worker computes the same split
			expect(computeThompsonAllocation(campaign, arms([400, 400, 0], [160, 240, 0]), 1)).toEqual(adapted);
		});

		test('assignments record the allocation in force; SRM compares with the time-weighted split', async () => {
			const campaign = await running({ mode: 'thompson', thompsonFloor: 0.1, minSamplePerVariant: 100, seed: 'thompson-db' });
			for (let i = 0; i < 400; i += 20) {
				await Promise.all(Array.from({ length: 20 }, (_, k) => assignUnit(pool, { campaign: { id: campaign.id }, unitId: `t${i + k}` })));
			}
			const periods = await pool.query('SELECT id, weights FROM campaign_weights WHERE campaign_id = $1 ORDER BY id', [campaign.id]);
			expect(periods.rows).toHaveLength(1);
			expect(periods.rows[0].weights).toEqual([0.5, 0.5]); // burn-in: configured split

			// B turns out far better: seed the unit stats of the units already assigned
			const ids = Object.fromEntries(campaign.variants.map((v) => [v.id, v.key]));
			const assigned = await pool.query<{ unit_id: string; variant_id: string }>('SELECT unit_id, variant_id FROM campaign_assignments WHERE campaign_id = $1', [campaign.id]);
			for (const [n, row] of assigned.rows.entries()) {
				const good = ids[row.variant_id] === 'B' ? (n % 10 < 8 ? 1 : 0) : n % 10 < 3 ? 1 : 0;
				await pool.query(
					'INSERT INTO campaign_unit_stats (campaign_id, unit_id, variant_id, rating_count, rating_sum, good_count) VALUES ($1, $2, $3, 1, $4, $5)',
					[campaign.id, row.unit_id, row.variant_id, good ? 5 : 2, good],
				);
			}
			// the next assignment after the refresh interval computes a new allocation
			for (let i = 400; i < 1400; i += 20) {
				await Promise.all(Array.from({ length: 20 }, (_, k) => assignUnit(pool, { campaign: { id: campaign.id }, unitId: `t${i + k}` }, { thompsonRefreshMs: i === 400 && k === 0 ? 0 : 3_600_000 })));
			}
			const after = await pool.query<{ id: string; weights: number[] }>('SELECT id, weights FROM campaign_weights WHERE campaign_id = $1 ORDER BY id', [campaign.id]);
			expect(after.rows.length).toBeGreaterThanOrEqual(2);
			const latest = after.rows[after.rows.length - 1].weights;
			expect(latest[1]).toBeGreaterThan(0.85);
			expect(latest[0]).toBeGreaterThanOrEqual(0.1 - 1e-9);

			const results = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			const units = results.variants.map((v) => v.units);
			expect(units[1]).toBeGreaterThan(units[0] * 2); // traffic moved to B
			// against the static 50/50 split this would be a glaring mismatch; against the split in force it is not
			expect(srmTest(units, [1, 1]).alert).toBe(true);
			expect(results.srm.alert).toBe(false);
			expect(results.expectedSplit[1]).toBeGreaterThan(0.6);
		});
	});
	describe('completed campaigns are frozen', () => {
		/** A finished run of the unit's variant, as ComfyUI Execute records it. */
		async function run(campaign: Campaign, unitId: string, finish = true): Promise<{ id: string; versionId: string }> {
			const assignment = await assignUnit(pool, { campaign: { id: campaign.id }, unitId });
			const id = randomUUID();
			await startExecution(pool, { id, source: 'comfyui', variantId: assignment.variantId, userId: unitId });
			if (finish) await finishExecution(pool, id, { status: 'succeeded', durationMs: 1200 });
			return { id, versionId: assignment.versionId };
		}
		/** The results as JSON, without the one field that is the time of the call. */
		const resultsJson = async (campaign: Campaign) => JSON.stringify({ ...(await getCampaignResults(pool, { campaign: { id: campaign.id } })), computedAt: null });

		test('a rating sent after Promote leaves the results byte-identical, while the version stats still move', async () => {
			const campaign = await running();
			await seedVariant(campaign, 'control', { units: 1000, unitRows: unitRows(700, 0.45, 11) });
			await seedVariant(campaign, 'B', { units: 1000, unitRows: unitRows(700, 0.62, 12) });
			const rated = await run(campaign, 'real-1');
			expect(await recordFeedback(pool, { executionId: rated.id, userId: 'real-1', rating: 5 })).toMatchObject({ campaignFrozen: false });
			const inFlight = await run(campaign, 'real-2', false); // still running when the campaign is promoted

			const promotion = await promoteCampaign(pool, { campaign: { id: campaign.id } });
			expect(promotion.decision).toEqual({
				status: 'winner',
				winnerVariantId: promotion.winner.id,
				winnerVariantKey: 'B',
				summary: 'completed: B promoted',
				reasons: expect.arrayContaining([expect.stringMatching(/^winner: B/)]),
				final: true,
				forced: false,
			});
			const before = await resultsJson(campaign);
			const parsed = JSON.parse(before) as { decision: unknown; campaign: { status: string; winnerVariantKey: string } };
			expect(parsed.campaign).toMatchObject({ status: 'completed', winnerVariantKey: 'B' });
			expect(parsed.decision).toEqual(promotion.decision);
			const versionBefore = await getTemplateStats(pool, { versionId: rated.versionId });
			const frozenBefore = await pool.query('SELECT * FROM campaign_unit_stats WHERE campaign_id = $1 ORDER BY unit_id', [campaign.id]);

			// after the promotion: a re-rating, a second rater, the run in flight finishing and being rated, a new run of the winner
			const late = [
				await recordFeedback(pool, { executionId: rated.id, userId: 'real-1', rating: 1 }),
				await recordFeedback(pool, { executionId: rated.id, userId: 'someone-else', rating: 2 }),
			];
			await finishExecution(pool, inFlight.id, { status: 'succeeded', durationMs: 900 });
			late.push(await recordFeedback(pool, { executionId: inFlight.id, userId: 'real-2', rating: 4 }));
			const afterwards = await run(campaign, 'real-3');
			late.push(await recordFeedback(pool, { executionId: afterwards.id, userId: 'real-3', rating: 5 }));
			expect(late.map((r) => [r.duplicate, r.campaignFrozen])).toEqual(Array(4).fill([false, true]));

			expect(await resultsJson(campaign)).toBe(before);
			expect((await pool.query('SELECT * FROM campaign_unit_stats WHERE campaign_id = $1 ORDER BY unit_id', [campaign.id])).rows).toEqual(frozenBefore.rows);
			// the ratings are stored and count for their template versions
			const ratedVersion = await getTemplateStats(pool, { versionId: rated.versionId });
			expect(ratedVersion.ratingCount).toBe(versionBefore.ratingCount + 1 + (inFlight.versionId === rated.versionId ? 1 : 0) + (afterwards.versionId === rated.versionId ? 1 : 0));
			expect(ratedVersion.ratingSum - versionBefore.ratingSum).toBe(
				-4 + 2 + (inFlight.versionId === rated.versionId ? 4 : 0) + (afterwards.versionId === rated.versionId ? 5 : 0),
			);
			expect((await pool.query('SELECT count(*)::int AS n FROM feedback WHERE campaign_id = $1', [campaign.id])).rows[0].n).toBe(4);
			await setLabel(pool, { name: 'hero' }, 'production', 1, { reason: 'test reset' });
		});

		test('Complete freezes too; its final decision, the forced promotion after it and the weekly report agree', async () => {
			const campaign = await running({
				variants: [
					{ key: 'control', template: { name: 'portrait' }, weight: 1, isControl: true },
					{ key: 'B', template: { name: 'hero' }, version: 3, weight: 1, isControl: false },
				],
				minSamplePerVariant: 500,
			});
			await seedVariant(campaign, 'control', { units: 200, unitRows: unitRows(150, 0.5, 13) });
			await seedVariant(campaign, 'B', { units: 205, unitRows: unitRows(150, 0.5, 13) });
			const live = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			expect(live.decision).toMatchObject({ status: 'keep_running', summary: 'keep running', final: false, forced: false });
			const report = (await runningCampaigns(pool)).find((c) => c.id === campaign.id)!;
			expect(report.decision).toEqual({ status: 'keep_running', winnerVariantKey: null, summary: 'keep running', final: false, forced: false });

			const rated = await run(campaign, 'unit-x', false);
			await completeCampaign(pool, { campaign: { id: campaign.id } });
			const completed = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			expect(completed.decision).toMatchObject({
				status: 'inconclusive',
				winnerVariantKey: null,
				summary: 'completed: inconclusive (no variant was conclusive)',
				final: true,
				forced: false,
			});
			const before = await resultsJson(campaign);
			await finishExecution(pool, rated.id, { status: 'failed' }); // a run finishing after completion is not counted either
			expect(await recordFeedback(pool, { executionId: rated.id, userId: 'unit-x', rating: 1 })).toMatchObject({ campaignFrozen: true });
			expect(await resultsJson(campaign)).toBe(before);

			const promotion = await promoteCampaign(pool, { campaign: { id: campaign.id }, forceVariant: 'b' });
			const expected = {
				status: 'winner',
				winnerVariantKey: 'B',
				summary: 'completed: B promoted by hand (the statistics said: keep running)',
				final: true,
				forced: true,
			};
			expect(promotion.decision).toMatchObject(expected);
			expect(promotion.decision.reasons[0]).toBe("B was promoted by hand (forced) over the statistics' decision: keep running");
			const results = await getCampaignResults(pool, { campaign: { id: campaign.id } });
			expect(results.decision).toEqual(promotion.decision);
			expect(results.campaign).toMatchObject({ status: 'completed', winnerVariantKey: 'B' });

			// the weekly report lists it among the campaigns completed in its window, with the same decision
			const weekly = await weeklyReport(pool, { from: new Date(Date.now() - 86_400_000), to: new Date(Date.now() + 60_000) });
			const row = weekly.completedCampaigns.find((c) => c.id === campaign.id)!;
			expect(row).toMatchObject({ name: campaign.name, status: 'completed', decision: { ...expected } });
			expect((await runningCampaigns(pool)).map((c) => c.id)).not.toContain(campaign.id);
			const html = renderWeeklyReportHtml(weekly, await runningCampaigns(pool));
			expect(html).toContain('Campaigns completed in this period');
			expect(html).toContain(`<td style="padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left;font-size:13px">${campaign.name}</td>`);
			expect(html).toContain('completed: B promoted by hand (the statistics said: keep running)');
			await setLabel(pool, { name: 'hero' }, 'production', 1, { reason: 'test reset' });
		});

		test('ratings racing Complete: the aggregates hold exactly the ratings that counted, and nothing moves after Complete returns', async () => {
			const campaign = await running();
			const runs: Array<{ id: string; versionId: string }> = [];
			for (let i = 0; i < 40; i++) runs.push(await run(campaign, `racer-${i}`));
			const rate = (i: number) => recordFeedback(pool, { executionId: runs[i].id, userId: `racer-${i}`, rating: 1 + (i % 5) });
			// 20 ratings, Complete, 20 more, all at once on the pool's 20 connections
			const first = runs.slice(0, 20).map((_, i) => rate(i));
			const completion = completeCampaign(pool, { campaign: { id: campaign.id } }).then(() => resultsJson(campaign));
			const second = runs.slice(20).map((_, i) => rate(20 + i));
			const [atCompletion, written] = await Promise.all([completion, Promise.all([...first, ...second])]);

			expect(await resultsJson(campaign)).toBe(atCompletion);
			const counted = written.filter((w) => !w.campaignFrozen);
			const { rows } = await pool.query<{ variant_ratings: number; unit_ratings: number; unit_sum: number; feedback: number }>(
				`SELECT (SELECT coalesce(sum(rating_count), 0)::int FROM campaign_variant_stats WHERE campaign_id = $1) AS variant_ratings,
					(SELECT coalesce(sum(rating_count), 0)::int FROM campaign_unit_stats WHERE campaign_id = $1) AS unit_ratings,
					(SELECT coalesce(sum(rating_sum), 0)::int FROM campaign_unit_stats WHERE campaign_id = $1) AS unit_sum,
					(SELECT count(*)::int FROM feedback WHERE campaign_id = $1) AS feedback`,
				[campaign.id],
			);
			expect(rows[0]).toEqual({
				variant_ratings: counted.length,
				unit_ratings: counted.length,
				unit_sum: counted.reduce((sum, w) => sum + w.feedback.rating, 0),
				feedback: 40,
			});
		});

		test('a rating and a finishing run that wait for a Complete in progress see it, and count for the version only', async () => {
			const campaign = await running();
			const rated = await run(campaign, 'waiter-1');
			const finishing = await run(campaign, 'waiter-2', false);
			const before = await resultsJson(campaign);
			const versionBefore = await getTemplateStats(pool, { versionId: rated.versionId });
			// Complete, held open: what completeCampaign does, stopped before COMMIT
			const completing = await pool.connect();
			try {
				await completing.query('BEGIN');
				await findCampaign(completing, { id: campaign.id }, { forUpdate: true });
				await updateCampaignStatus(completing, campaign.id, 'completed');
				const rating = recordFeedback(pool, { executionId: rated.id, userId: 'waiter-1', rating: 5 });
				const finish = finishExecution(pool, finishing.id, { status: 'succeeded', durationMs: 700 });
				// both statements started (with snapshots in which the campaign still runs) and now wait for the campaign row
				for (let waited = 0; ; waited += 20) {
					const { rows } = await pool.query<{ n: number }>(
						`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
					);
					if (rows[0].n >= 2) break;
					if (waited > 5000) throw new Error(`the writers do not wait for the campaign row (${rows[0].n} waiting)`);
					await new Promise((resolve) => setTimeout(resolve, 20));
				}
				await completing.query('COMMIT');
				expect(await rating).toMatchObject({ campaignFrozen: true, duplicate: false });
				await finish;
			} finally {
				completing.release();
			}
			const after = JSON.parse(await resultsJson(campaign)) as { campaign: { status: string; updatedAt: string; completedAt: string } };
			const expected = JSON.parse(before) as typeof after;
			// the status fields changed with Complete; nothing else did
			expect(after.campaign.status).toBe('completed');
			expect({ ...after, campaign: { ...after.campaign, status: null, updatedAt: null, completedAt: null } }).toEqual({
				...expected,
				campaign: { ...expected.campaign, status: null, updatedAt: null, completedAt: null },
				decision: expect.anything(),
			});
			const versionAfter = await getTemplateStats(pool, { versionId: rated.versionId });
			expect(versionAfter.ratingCount).toBe(versionBefore.ratingCount + 1);
			expect(versionAfter.executions).toBe(versionBefore.executions + (finishing.versionId === rated.versionId ? 1 : 0));
		});
	});
});
