import type { Pool } from 'pg';

import { getPool } from '../lib/db/pool';
import {
	getSimilarityState,
	popularTemplates,
	recommendForUser,
	refreshSimilarities,
	similarTemplates,
	waitForBackgroundRefresh,
} from '../lib/recommendations';
import { getTemplate, setArchived } from '../lib/db/templates';
import { createTemplate } from '../lib/templates/manage';
import { popularityScore } from '../lib/stats';
import { createTestDatabase, type TestDatabase } from './support/database';

/**
 * A small catalogue with planted taste: portrait lovers like P1–P4 and dislike L1; landscape lovers
 * like L1–L4 and dislike P1. R1–R3 are product templates; "one-hit" has a single 5-star rating.
 */
const CATALOGUE: Array<{ name: string; category: string; tags: string[]; kind?: 'image' | 'text' }> = [
	{ name: 'P1', category: 'portrait', tags: ['face', 'studio'] },
	{ name: 'P2', category: 'portrait', tags: ['face', 'studio'] },
	{ name: 'P3', category: 'portrait', tags: ['face', 'outdoor'] },
	{ name: 'P4', category: 'portrait', tags: ['face'], kind: 'text' },
	{ name: 'L1', category: 'landscape', tags: ['mountain', 'outdoor'] },
	{ name: 'L2', category: 'landscape', tags: ['mountain'] },
	{ name: 'L3', category: 'landscape', tags: ['sea', 'outdoor'] },
	{ name: 'L4', category: 'landscape', tags: ['sea'] },
	{ name: 'R1', category: 'product', tags: ['studio', 'white'] },
	{ name: 'R2', category: 'product', tags: ['studio'] },
	{ name: 'R3', category: 'product', tags: ['white'] },
	{ name: 'one-hit', category: 'product', tags: ['neon'] },
];

describe('recommendations repository (real Postgres)', () => {
	let db: TestDatabase;
	let pool: Pool;
	const ids: Record<string, string> = {};
	let clock = 0;

	/** One execution + its feedback, as Record Feedback would store them. */
	async function rate(userId: string, template: string, rating: number | null): Promise<void> {
		clock++;
		const at = new Date(Date.UTC(2025, 0, 1) + clock * 60_000).toISOString();
		const { rows } = await pool.query<{ id: string }>(
			`INSERT INTO executions (id, source, template_id, version_id, user_id, status, created_at)
			 SELECT gen_random_uuid(), 'external', t.id, v.id, $2, 'succeeded', $3
			 FROM templates t JOIN template_versions v ON v.template_id = t.id WHERE t.id = $1 RETURNING id`,
			[ids[template], userId, at],
		);
		if (rating === null) return;
		await pool.query(
			`INSERT INTO feedback (execution_id, template_id, version_id, user_id, rating, idempotency_key, created_at)
			 SELECT e.id, e.template_id, e.version_id, e.user_id, $2, e.id::text, $3 FROM executions e WHERE e.id = $1`,
			[rows[0].id, rating, at],
		);
	}

	async function rebuildTemplateStats(): Promise<void> {
		await pool.query('DELETE FROM template_stats');
		await pool.query(
			`INSERT INTO template_stats (version_id, template_id, executions, rating_count, rating_sum, rating_sum_sq, rating_hist)
			 SELECT v.id, v.template_id, (SELECT count(*) FROM executions e WHERE e.version_id = v.id), count(f.id), coalesce(sum(f.rating), 0),
			        coalesce(sum(f.rating * f.rating), 0),
			        ARRAY[count(*) FILTER (WHERE f.rating = 1), count(*) FILTER (WHERE f.rating = 2), count(*) FILTER (WHERE f.rating = 3),
			              count(*) FILTER (WHERE f.rating = 4), count(*) FILTER (WHERE f.rating = 5)]
			 FROM template_versions v LEFT JOIN feedback f ON f.version_id = v.id GROUP BY v.id, v.template_id`,
		);
	}

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		for (const t of CATALOGUE) {
			const { template } = await createTemplate(pool, {
				name: t.name,
				kind: t.kind ?? 'image',
				category: t.category,
				tags: t.tags,
				firstVersion: { positivePrompt: `prompt ${t.name}` },
			});
			ids[t.name] = template.id;
		}
		for (let u = 1; u <= 8; u++) {
			for (const [t, r] of [['P1', 5], ['P2', 5], ['P3', 4], ['L1', 2]] as const) await rate(`portrait-fan-${u}`, t, r);
			if (u <= 4) await rate(`portrait-fan-${u}`, 'P4', 4);
			for (const [t, r] of [['L1', 5], ['L2', 5], ['L3', 4], ['P1', 2]] as const) await rate(`landscape-fan-${u}`, t, r);
			if (u <= 4) await rate(`landscape-fan-${u}`, 'L4', 4);
		}
		// L2 is the well-rated popular template; "one-hit" has one 5-star rating
		for (let u = 1; u <= 30; u++) await rate(`crowd-${u}`, 'L2', u % 10 === 0 ? 4 : 5);
		for (let u = 1; u <= 20; u++) await rate(`crowd-${u}`, 'R2', 3);
		await rate('lucky', 'one-hit', 5);
		// alice: loved P1, ran R1 without rating it
		await rate('alice', 'P1', 5);
		await rate('alice', 'R1', null);
		await rebuildTemplateStats();
	});
	afterAll(async () => {
		await db.drop();
	});

	test('For User builds the neighbours on first use, then recommends what similar users liked, with a reason', async () => {
		expect(await getSimilarityState(pool)).toBeNull();
		const list = await recommendForUser(pool, 'alice', { limit: 5 });
		expect(await getSimilarityState(pool)).not.toBeNull();
		expect(list.strategy).toBe('personalised');
		expect(list.history).toEqual({ ratedTemplates: 1, likedTemplates: 1 });
		const personalised = list.items.filter((i) => i.strategy === 'personalised');
		expect(personalised.map((i) => i.name).slice(0, 2).sort()).toEqual(['P2', 'P3']);
		for (const item of personalised) {
			expect(item.reason).toBe('similar to "P1" you rated 5');
			expect(item.because).toEqual({ templateId: ids.P1, name: 'P1', rating: 5 });
			expect(item.score).toBeGreaterThan(0);
		}
		// the list is topped up with popular templates, each marked as such
		expect(list.items).toHaveLength(5);
		expect(list.items.filter((i) => i.strategy === 'popular').every((i) => /^popular|^new template/.test(i.reason))).toBe(true);
	});

	test('templates the user already used (rated or only ran) are never recommended', async () => {
		for (const limit of [3, 10, 20]) {
			const list = await recommendForUser(pool, 'alice', { limit, refreshIfOlderThanHours: 0 });
			const names = list.items.map((i) => i.name);
			expect(names).not.toContain('P1'); // rated
			expect(names).not.toContain('R1'); // executed, never rated
			expect(new Set(names).size).toBe(names.length);
		}
		const fan = await recommendForUser(pool, 'portrait-fan-5', { limit: 20, maxPerCategory: 0, refreshIfOlderThanHours: 0 });
		expect(fan.items.map((i) => i.name)).toEqual(expect.not.arrayContaining(['P1', 'P2', 'P3', 'L1']));
		expect(fan.items[0].name).toBe('P4'); // liked by the other portrait fans
		const popular = await popularTemplates(pool, { limit: 20, excludeUsedBy: 'alice', maxPerCategory: 0 });
		expect(popular.map((i) => i.name)).toEqual(expect.not.arrayContaining(['P1', 'R1']));
	});

	test('a disliked template pushes its neighbours down', async () => {
		// likes P1 but hated P2 (its closest neighbour): P2 is used, and P3 still comes first among portraits
		await rate('bob', 'P1', 5);
		await rate('bob', 'L1', 1);
		const list = await recommendForUser(pool, 'bob', { limit: 10, maxPerCategory: 0, refreshIfOlderThanHours: 0 });
		const personalised = list.items.filter((i) => i.strategy === 'personalised').map((i) => i.name);
		expect(personalised).toEqual(expect.arrayContaining(['P2', 'P3']));
		expect(personalised).not.toContain('L2'); // the neighbours of the disliked L1 are not recommended from history
	});

	test('cold start: unknown users get popular templates; one 5-star rating does not beat a well-rated popular template', async () => {
		const list = await recommendForUser(pool, 'stranger', { limit: 12, maxPerCategory: 0, refreshIfOlderThanHours: 0 });
		expect(list.strategy).toBe('popular');
		expect(list.history).toEqual({ ratedTemplates: 0, likedTemplates: 0 });
		expect(list.items.every((i) => i.strategy === 'popular')).toBe(true);
		const names = list.items.map((i) => i.name);
		expect(names[0]).toBe('L2');
		expect(names.indexOf('one-hit')).toBeGreaterThan(names.indexOf('L2'));
		const oneHit = list.items.find((i) => i.name === 'one-hit')!;
		expect(oneHit.popularity).toMatchObject({ ratingCount: 1, meanRating: 5 });
		expect(list.items[0].reason).toBe('popular: 4.9★ average over 38 ratings');

		// the scores are lib/stats' Bayesian average with the catalogue mean as prior
		const { rows } = await pool.query<{ mean: number }>('SELECT sum(rating_sum)::float8 / sum(rating_count) AS mean FROM template_stats');
		for (const item of list.items) {
			const p = item.popularity!;
			expect(item.score).toBeCloseTo(
				popularityScore({ ratingCount: p.ratingCount, ratingSum: (p.meanRating ?? 0) * p.ratingCount }, { priorMean: rows[0].mean, priorWeight: 10 }),
				9,
			);
		}
		const sorted = [...list.items].sort((a, b) => b.score - a.score);
		expect(sorted.map((i) => i.name)).toEqual(names);

		const wilson = await popularTemplates(pool, { limit: 12, maxPerCategory: 0, popularity: { method: 'wilson' } });
		expect(wilson[0].name).toBe('L2');
		const wilsonNames = wilson.map((i) => i.name);
		expect(wilsonNames.indexOf('one-hit')).toBeGreaterThan(wilsonNames.indexOf('P2'));
		expect(wilson[0].reason).toBe('popular: 100% of 38 ratings are 4★ or 5★');
	});

	test('a user with too little liked history gets the popular list', async () => {
		await rate('grumpy', 'P2', 2);
		const list = await recommendForUser(pool, 'grumpy', { refreshIfOlderThanHours: 0 });
		expect(list.strategy).toBe('popular');
		expect(list.items.map((i) => i.name)).not.toContain('P2');
		const strict = await recommendForUser(pool, 'alice', { minLikedTemplates: 2, refreshIfOlderThanHours: 0 });
		expect(strict.strategy).toBe('popular');
	});

	test('the per-category cap keeps the list varied (default: half the list)', async () => {
		for (const cap of [1, 2]) {
			const list = await recommendForUser(pool, 'alice', { limit: 8, maxPerCategory: cap, refreshIfOlderThanHours: 0 });
			const perCategory = new Map<string, number>();
			for (const item of list.items) perCategory.set(item.category!, (perCategory.get(item.category!) ?? 0) + 1);
			expect(Math.max(...perCategory.values())).toBeLessThanOrEqual(cap);
			expect(list.items.length).toBe(Math.min(8, 3 * cap));
		}
		const byDefault = await recommendForUser(pool, 'alice', { limit: 4, refreshIfOlderThanHours: 0 });
		const portraits = byDefault.items.filter((i) => i.category === 'portrait').length;
		expect(portraits).toBe(2);
		const popular = await popularTemplates(pool, { limit: 6, maxPerCategory: 1 });
		expect(new Set(popular.map((i) => i.category)).size).toBe(popular.length);
	});

	test('filters by kind, category and tags', async () => {
		const text = await recommendForUser(pool, 'alice', { kind: 'text', refreshIfOlderThanHours: 0 });
		expect(text.items.map((i) => i.name)).toEqual(['P4']);
		const landscapes = await recommendForUser(pool, 'alice', { category: 'LANDSCAPE', maxPerCategory: 0, refreshIfOlderThanHours: 0 });
		expect(landscapes.items.length).toBeGreaterThan(0);
		expect(landscapes.items.every((i) => i.category === 'landscape')).toBe(true);
		const tagged = await popularTemplates(pool, { tags: ['Sea', 'neon'], maxPerCategory: 0 });
		expect(tagged.map((i) => i.name).sort()).toEqual(['L3', 'L4', 'one-hit']);
	});

	test('similar templates: co-liked first with a reason; templates created after the refresh get tag matches; archived ones never', async () => {
		const similar = await similarTemplates(pool, { name: 'P1' }, { limit: 5 });
		expect(similar.template).toEqual({ id: ids.P1, name: 'P1' });
		expect(similar.items[0].name).toBe('P2');
		expect(similar.items[0].reason).toMatch(/^rated alike by 8 users; shares tags face, studio; same category portrait$/);
		expect(similar.items[0].similarity!.coRaters).toBe(8);
		expect(similar.items.map((i) => i.name)).not.toContain('P1');

		const { template } = await createTemplate(pool, {
			name: 'P5',
			kind: 'image',
			category: 'portrait',
			tags: ['face', 'studio'],
			firstVersion: { positivePrompt: 'new portrait' },
		});
		const fresh = await similarTemplates(pool, { id: template.id }, { limit: 3 });
		expect(fresh.items.map((i) => i.name).slice(0, 2).sort()).toEqual(['P1', 'P2']); // same category + both tags
		expect(fresh.items[0].reason).toMatch(/shares tags face, studio; same category portrait/);

		await setArchived(pool, { name: 'P2' }, true);
		try {
			expect((await similarTemplates(pool, { name: 'P1' }, { limit: 10 })).items.map((i) => i.name)).not.toContain('P2');
			expect((await recommendForUser(pool, 'alice', { limit: 20, maxPerCategory: 0, refreshIfOlderThanHours: 0 })).items.map((i) => i.name)).not.toContain('P2');
		} finally {
			await setArchived(pool, { name: 'P2' }, false);
			await pool.query('DELETE FROM templates WHERE id = $1', [template.id]);
		}
		await expect(similarTemplates(pool, { name: 'nope' })).rejects.toMatchObject({ code: 'template_not_found', field: 'template', httpStatus: 404 });
	});

	test('refresh is idempotent, and two concurrent refreshes leave the same table', async () => {
		const snapshot = async () =>
			(await pool.query('SELECT template_id, neighbor_id, score, cf_score, content_score, co_raters FROM template_neighbors ORDER BY 1, 2')).rows;
		const first = await refreshSimilarities(pool);
		expect(first.refreshed).toBe(true);
		expect(first.pairs).toBeGreaterThan(0);
		const before = await snapshot();
		const [a, b] = await Promise.all([refreshSimilarities(pool), refreshSimilarities(pool)]);
		expect(a.pairs).toBe(first.pairs);
		expect(b.pairs).toBe(first.pairs);
		expect(await snapshot()).toEqual(before);
		// with skipIfBusy a refresh that finds another one running returns at once, changing nothing
		const [full, skipped] = await Promise.all([refreshSimilarities(pool), new Promise((r) => setTimeout(r, 30)).then(() => refreshSimilarities(pool, { skipIfBusy: true }))]);
		expect(full.refreshed).toBe(true);
		expect(typeof skipped.refreshed).toBe('boolean');
		expect(await snapshot()).toEqual(before);
		const rated = await pool.query('SELECT 1 FROM template_neighbors WHERE template_id = $1 AND neighbor_id = $1', [ids.P1]);
		expect(rated.rows).toHaveLength(0);
	});

	test('stale neighbours are rebuilt in the background while the answer uses the current ones', async () => {
		await pool.query(`UPDATE template_neighbors_refresh SET refreshed_at = now() - interval '3 days'`);
		const stale = await getSimilarityState(pool);
		const list = await recommendForUser(pool, 'alice', { refreshIfOlderThanHours: 24 });
		expect(list.neighborsRefreshedAt).toBe(stale!.refreshedAt);
		await waitForBackgroundRefresh(pool);
		const after = await getSimilarityState(pool);
		expect(new Date(after!.refreshedAt).getTime()).toBeGreaterThan(new Date(stale!.refreshedAt).getTime());
		// 0 turns automatic refreshes off
		await pool.query(`UPDATE template_neighbors_refresh SET refreshed_at = now() - interval '3 days'`);
		const unchanged = (await getSimilarityState(pool))!.refreshedAt;
		await recommendForUser(pool, 'alice', { refreshIfOlderThanHours: 0 });
		await waitForBackgroundRefresh(pool);
		expect((await getSimilarityState(pool))!.refreshedAt).toBe(unchanged);
	});

	test('bad options are validation errors naming the field; nothing is refreshed', async () => {
		const state = await getSimilarityState(pool);
		await expect(recommendForUser(pool, '  ')).rejects.toMatchObject({ code: 'field_required', field: 'userId', httpStatus: 400 });
		await expect(recommendForUser(pool, 'al\u0000ice')).rejects.toMatchObject({ code: 'invalid_text', field: 'userId' });
		await expect(recommendForUser(pool, 'alice', { limit: 0 })).rejects.toMatchObject({ code: 'invalid_input', field: 'limit' });
		await expect(recommendForUser(pool, 'alice', { limit: 2.5 })).rejects.toMatchObject({ code: 'invalid_input', field: 'limit' });
		await expect(recommendForUser(pool, 'alice', { refreshIfOlderThanHours: -1 })).rejects.toMatchObject({ code: 'invalid_input', field: 'refreshIfOlderThanHours' });
		await expect(popularTemplates(pool, { maxPerCategory: -1 })).rejects.toMatchObject({ code: 'invalid_input', field: 'maxPerCategory' });
		await expect(popularTemplates(pool, { popularity: { method: 'raw' as never } })).rejects.toMatchObject({ code: 'invalid_input', field: 'popularity.method' });
		await expect(popularTemplates(pool, { category: 'port\u0000rait' })).rejects.toMatchObject({ code: 'invalid_text', field: 'category' });
		await expect(popularTemplates(pool, { tags: ['ok', 'sea\ud800'] })).rejects.toMatchObject({ code: 'invalid_text', field: 'tags.1' });
		await expect(popularTemplates(pool, { kind: 'video' as never })).rejects.toMatchObject({ code: 'invalid_input', field: 'kind' });
		await expect(similarTemplates(pool, { name: 'P1' }, { limit: 101 })).rejects.toMatchObject({ code: 'invalid_input', field: 'limit' });
		await expect(refreshSimilarities(pool, { similarity: 'pearson' as never })).rejects.toMatchObject({ code: 'invalid_input', field: 'similarity' });
		await expect(refreshSimilarities(pool, { neighborsPerTemplate: 0 })).rejects.toMatchObject({ code: 'invalid_input', field: 'neighborsPerTemplate' });
		expect(await getSimilarityState(pool)).toEqual(state);
		expect((await getTemplate(pool, { name: 'P1' })).name).toBe('P1');
	});
});
