import { randomUUID } from 'node:crypto';

import type { Pool } from 'pg';

import { finishExecution, startExecution, type TerminalStatus } from '../lib/db/executions';
import { recordFeedback } from '../lib/feedback';
import { getPool } from '../lib/db/pool';
import { runningCampaigns, weeklyReport } from '../lib/reports/weekly';
import { createTemplate, createVersion } from '../lib/templates/manage';
import { createTestDatabase, type TestDatabase } from './support/database';

const FROM = '2025-03-03T00:00:00.000Z';
const TO = '2025-03-10T00:00:00.000Z';
const IN_WINDOW = '2025-03-05T12:00:00Z';
const BEFORE = '2025-02-20T12:00:00Z';

describe('weekly report on a small seeded dataset (real Postgres)', () => {
	let db: TestDatabase;
	let pool: Pool;
	const ids: Record<string, string> = {};

	async function run(versionId: string, status: TerminalStatus | 'queued', durationMs: number | null, createdAt: string, error?: string) {
		const id = randomUUID();
		await startExecution(pool, { id, source: 'comfyui', versionId });
		if (status !== 'queued') await finishExecution(pool, id, { status, durationMs, error });
		await pool.query('UPDATE executions SET created_at = $2 WHERE id = $1', [id, createdAt]);
		return id;
	}

	async function rate(executionId: string, ratings: number[], createdAt: string) {
		for (const [k, rating] of ratings.entries()) {
			const { feedback } = await recordFeedback(pool, { executionId, rating, userId: `rater-${k}` });
			await pool.query('UPDATE feedback SET created_at = $2 WHERE id = $1', [feedback.id, createdAt]);
		}
	}

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		const alpha = await createTemplate(pool, { name: 'Alpha', kind: 'image', category: 'product', firstVersion: { positivePrompt: 'a' } });
		ids.alpha = alpha.template.id;
		ids.a1 = alpha.version.id;
		ids.a2 = (await createVersion(pool, { id: ids.alpha }, { positivePrompt: 'a2' })).version.id;
		const beta = await createTemplate(pool, { name: 'Beta', kind: 'image', firstVersion: { positivePrompt: 'b' } });
		ids.beta = beta.template.id;
		ids.b1 = beta.version.id;
		const gamma = await createTemplate(pool, { name: 'Gamma', kind: 'text', firstVersion: { positivePrompt: 'g' } });
		ids.gamma = gamma.template.id;
		ids.g1 = gamma.version.id;

		// In the window.
		const a1 = [
			await run(ids.a1, 'succeeded', 1000, IN_WINDOW),
			await run(ids.a1, 'succeeded', 2000, IN_WINDOW),
			await run(ids.a1, 'succeeded', 3000, IN_WINDOW),
			await run(ids.a1, 'failed', 50, IN_WINDOW, 'CUDA out of memory'),
		];
		const a2 = [await run(ids.a2, 'succeeded', 4000, IN_WINDOW), await run(ids.a2, 'lost', null, IN_WINDOW)];
		const b1 = [
			await run(ids.b1, 'succeeded', 500, IN_WINDOW),
			await run(ids.b1, 'succeeded', 1500, IN_WINDOW),
			await run(ids.b1, 'failed', 20, IN_WINDOW, 'CUDA out of memory'),
			await run(ids.b1, 'queued', null, IN_WINDOW),
		];
		const g1 = [
			await run(ids.g1, 'succeeded', 800, IN_WINDOW),
			await run(ids.g1, 'cancelled', null, IN_WINDOW),
			await run(ids.g1, 'failed', 10, IN_WINDOW, 'rate limited'),
		];
		await rate(a1[0], [5, 5, 5], IN_WINDOW);
		await rate(a1[1], [5, 5, 5], IN_WINDOW);
		await rate(a1[2], [4, 4], IN_WINDOW);
		await rate(a2[0], [5], IN_WINDOW);
		await rate(b1[0], [5], IN_WINDOW); // a single 5: best raw mean, but not the best Bayesian score
		await rate(g1[0], [4, 4, 4, 3], IN_WINDOW);

		// Before the window: must not count anywhere.
		for (let k = 0; k < 5; k++) await rate(await run(ids.a1, 'succeeded', 9999, BEFORE), [1, 1], BEFORE);
		await run(ids.b1, 'failed', 5, BEFORE, 'an old error');

		// Campaigns: one running with assignments, one draft.
		const running = await pool.query<{ id: string }>(
			`INSERT INTO campaigns (name, seed, status, started_at) VALUES ('Hero test', 's', 'running', '2025-03-01T00:00:00Z') RETURNING id`,
		);
		ids.campaign = running.rows[0].id;
		const variants = await pool.query<{ id: string; key: string }>(
			`INSERT INTO campaign_variants (campaign_id, key, position, template_id, version_id, weight, is_control)
			 VALUES ($1, 'control', 0, $2, $3, 0.5, true), ($1, 'B', 1, $2, $4, 0.5, false) RETURNING id, key`,
			[ids.campaign, ids.alpha, ids.a1, ids.a2],
		);
		ids.control = variants.rows.find((v) => v.key === 'control')!.id;
		ids.variantB = variants.rows.find((v) => v.key === 'B')!.id;
		await pool.query(
			`INSERT INTO campaign_assignments (campaign_id, unit_id, variant_id) VALUES ($1, 'u1', $2), ($1, 'u2', $2), ($1, 'u3', $3)`,
			[ids.campaign, ids.control, ids.variantB],
		);
		await pool.query(`INSERT INTO campaigns (name, seed) VALUES ('Draft', 's')`);
	});
	afterAll(async () => {
		await db.drop();
	});

	test('totals, duration percentiles and failures of the window, with exact numbers', async () => {
		const report = await weeklyReport(pool, { from: FROM, to: TO, limit: 10 });
		expect(report.from).toBe(FROM);
		expect(report.to).toBe(TO);
		expect(report.totals).toEqual({
			executions: 13,
			succeeded: 7,
			failed: 4, // failed + lost
			cancelled: 1,
			inProgress: 1,
			failureRate: 4 / 11,
			avgDurationMs: 12800 / 7,
			p50DurationMs: 1500,
			p95DurationMs: 3700, // 3000 + 0.7 × (4000 − 3000)
			ratingCount: 14,
			meanRating: 63 / 14,
			goodShare: 13 / 14,
		});
		expect(report.scoring).toEqual({ method: 'bayesian_average', priorMean: 4.5, priorWeight: 10 });
		expect(report.failures).toEqual({
			count: 4,
			rate: 4 / 11,
			topErrors: [
				{ message: 'CUDA out of memory', count: 2, lastSeenAt: new Date(IN_WINDOW).toISOString(), templates: ['Alpha', 'Beta'] },
				{ message: 'lost: ComfyUI has no record of the prompt', count: 1, lastSeenAt: new Date(IN_WINDOW).toISOString(), templates: ['Alpha'] },
				{ message: 'rate limited', count: 1, lastSeenAt: new Date(IN_WINDOW).toISOString(), templates: ['Gamma'] },
			],
		});
	});

	test('top templates by use and by Bayesian-average rating (not by raw mean)', async () => {
		const report = await weeklyReport(pool, { from: FROM, to: TO, limit: 10 });
		expect(report.topByUse.map((t) => [t.templateName, t.executions, t.succeeded, t.failed])).toEqual([
			['Alpha', 6, 4, 2],
			['Beta', 4, 2, 1],
			['Gamma', 3, 1, 1],
		]);
		const alpha = report.topByUse[0];
		expect(alpha).toMatchObject({ templateId: ids.alpha, kind: 'image', category: 'product', ratingCount: 9, avgDurationMs: 2500, failureRate: 2 / 6 });
		// m = 10 pseudo-ratings at the window mean 4.5: Alpha (43+45)/19, Beta (5+45)/11, Gamma (15+45)/14
		expect(report.topByRating.map((t) => t.templateName)).toEqual(['Alpha', 'Beta', 'Gamma']);
		expect(report.topByRating.map((t) => t.bayesianScore)).toEqual([88 / 19, 50 / 11, 60 / 14]);
		expect(report.topByRating.map((t) => t.meanRating)).toEqual([43 / 9, 5, 15 / 4]); // Beta has the best raw mean
		const limited = await weeklyReport(pool, { from: FROM, to: TO, limit: 1 });
		expect(limited.topByRating.map((t) => t.templateName)).toEqual(['Alpha']);
		expect(limited.failures.topErrors).toHaveLength(1);
	});

	test('per-version rows', async () => {
		const report = await weeklyReport(pool, { from: FROM, to: TO });
		expect(report.versions.map((v) => [v.templateName, v.version, v.executions, v.ratingCount])).toEqual([
			['Alpha', 1, 4, 8],
			['Beta', 1, 4, 1],
			['Gamma', 1, 3, 4],
			['Alpha', 2, 2, 1],
		]);
		expect(report.versions[0]).toMatchObject({
			versionId: ids.a1,
			succeeded: 3,
			failed: 1,
			avgDurationMs: 2000,
			p50DurationMs: 2000,
			meanRating: 38 / 8,
			goodShare: 1,
			bayesianScore: (38 + 45) / 18,
		});
		expect(report.versions[3]).toMatchObject({ versionId: ids.a2, failed: 1, failureRate: 0.5, avgDurationMs: 4000 });
	});

	test('an empty window reports zeros; a reversed window is refused naming "from"', async () => {
		const empty = await weeklyReport(pool, { from: '2030-01-01', to: '2030-01-08' });
		expect(empty.totals).toMatchObject({ executions: 0, failureRate: null, avgDurationMs: null, p50DurationMs: null, ratingCount: 0, meanRating: null });
		expect(empty.topByUse).toEqual([]);
		expect(empty.scoring.priorMean).toBe(3);
		await expect(weeklyReport(pool, { from: TO, to: FROM })).rejects.toMatchObject({ code: 'invalid_input', field: 'from', httpStatus: 400 });
		await expect(weeklyReport(pool, { from: 'last tuesday', to: TO })).rejects.toMatchObject({ code: 'invalid_input', field: 'from' });
		await expect(weeklyReport(pool, { from: FROM } as never)).rejects.toMatchObject({ code: 'field_required', field: 'to' });
		await expect(weeklyReport(pool, { from: FROM, to: TO, limit: 0 })).rejects.toMatchObject({ code: 'invalid_input', field: 'limit' });
		await expect(weeklyReport(pool, { from: FROM, to: TO, priorWeight: 0 })).rejects.toMatchObject({ code: 'invalid_input', field: 'priorWeight' });
	});

	test('running campaigns with units per variant', async () => {
		expect(await runningCampaigns(pool)).toEqual([
			{
				id: ids.campaign,
				name: 'Hero test',
				status: 'running',
				mode: 'fixed',
				primaryMetric: 'good_rating_share',
				startedAt: '2025-03-01T00:00:00.000Z',
				completedAt: null,
				units: 3,
				variants: [
					{ variantId: ids.control, key: 'control', isControl: true, weight: 0.5, templateId: ids.alpha, versionId: ids.a1, units: 2 },
					{ variantId: ids.variantB, key: 'B', isControl: false, weight: 0.5, templateId: ids.alpha, versionId: ids.a2, units: 1 },
				],
				// the decision its A/B results show
				decision: { status: 'keep_running', winnerVariantKey: null, summary: 'keep running', final: false, forced: false },
			},
		]);
		// completed campaigns are listed by the report of the window they were completed in (lib/campaigns tests cover their decision)
		expect((await weeklyReport(pool, { from: FROM, to: TO })).completedCampaigns).toEqual([]);
	});
});
