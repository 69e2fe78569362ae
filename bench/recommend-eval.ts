/**
 * Offline evaluation of the Recommend node's "For User" list against the popularity baseline
 * (research report §3.4): temporal leave-last-positive-out on the seeded synthetic data set.
 *
 * For every user with ≥ 3 ratings, the most recent rating ≥ 4 is held out together with everything
 * the user did after it (executions and feedback are deleted, template_stats rebuilt, neighbours
 * refreshed), so nothing of the future leaks into training. Each list (10 items, the user's used
 * templates excluded, as in production) is scored against the full catalogue, no sampled
 * negatives: HR@10 = held-out item in the list; NDCG@10 = 1/log2(rank + 1).
 *
 * Run: `npx ts-node --transpile-only bench/recommend-eval.ts` (DATABASE_URL or an embedded Postgres).
 * Writes bench/results/recommend-eval.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Pool } from 'pg';

import { popularTemplates, recommendForUser, refreshSimilarities, type ForUserOptions, type RefreshOptions, type RefreshResult } from '../lib/recommendations';
import { freshDatabase, generateSynthetic, rebuildTemplateStats } from './synthetic';

const K = 10;
const SIZE = { seed: 42, templates: 2000, users: 5000, ratings: 200_000 };

interface Holdout {
	userId: string;
	templateId: string;
}

interface Metrics {
	users: number;
	hr: number;
	ndcg: number;
	mrr: number;
	hrCi: [number, number];
	ndcgCi: [number, number];
	/** Share of users whose list came (at least partly) from their history. */
	personalisedShare: number;
	/** Distinct templates recommended / catalogue size. */
	coverage: number;
	/** Mean rating count of recommended templates (popularity bias). */
	meanPopularity: number;
	msPerUser: number;
}

function seeded(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Percentile bootstrap 95% interval of a mean. */
function bootstrap(values: number[], rounds = 1000): [number, number] {
	const random = seeded(7);
	const means: number[] = [];
	for (let r = 0; r < rounds; r++) {
		let sum = 0;
		for (let i = 0; i < values.length; i++) sum += values[Math.floor(random() * values.length)];
		means.push(sum / values.length);
	}
	means.sort((a, b) => a - b);
	return [means[Math.floor(rounds * 0.025)], means[Math.floor(rounds * 0.975)]];
}

async function mapLimit<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
	const out = new Array<R>(items.length);
	let next = 0;
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next < items.length) {
				const i = next++;
				out[i] = await fn(items[i]);
			}
		}),
	);
	return out;
}

async function evaluate(
	pool: Pool,
	holdouts: Holdout[],
	catalogue: number,
	popularity: Map<string, number>,
	list: (userId: string) => Promise<{ ids: string[]; personalised: boolean }>,
): Promise<Metrics> {
	const t0 = Date.now();
	const results = await mapLimit(holdouts, 4, async (h) => {
		const { ids, personalised } = await list(h.userId);
		const rank = ids.indexOf(h.templateId) + 1;
		return { rank, ids, personalised };
	});
	const msPerUser = ((Date.now() - t0) * 4) / holdouts.length;
	const hits = results.map((r) => (r.rank > 0 && r.rank <= K ? 1 : 0));
	const gains = results.map((r) => (r.rank > 0 && r.rank <= K ? 1 / Math.log2(r.rank + 1) : 0));
	const rr = results.map((r) => (r.rank > 0 && r.rank <= K ? 1 / r.rank : 0));
	const recommended = new Set(results.flatMap((r) => r.ids));
	const pops = results.flatMap((r) => r.ids.map((id) => popularity.get(id) ?? 0));
	const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
	void pool;
	return {
		users: holdouts.length,
		hr: mean(hits),
		ndcg: mean(gains),
		mrr: mean(rr),
		hrCi: bootstrap(hits),
		ndcgCi: bootstrap(gains),
		personalisedShare: mean(results.map((r) => (r.personalised ? 1 : 0))),
		coverage: recommended.size / catalogue,
		meanPopularity: mean(pops),
		msPerUser,
	};
}

export interface EvalContext {
	pool: Pool;
	holdouts: Holdout[];
	popularity: Map<string, number>;
	data: Record<string, unknown>;
	drop(): Promise<void>;
}

/** Generates the data set into a fresh database and applies the leave-last-positive-out split. */
export async function prepareEvaluation(database = 'pl_bench_recommend_eval', log: (m: string) => void = console.log): Promise<EvalContext> {
	log(`generating ${SIZE.templates} templates, ${SIZE.users} users, ~${SIZE.ratings} ratings (seed ${SIZE.seed})`);
	const db = await freshDatabase(database);
	const pool = db.pool;
	const data = await generateSynthetic(db.config, { ...SIZE, log });
	// Leave-last-positive-out: hold out each eligible user's latest rating >= 4 and everything after it.
	await pool.query(
		`CREATE TABLE eval_holdout AS
		 SELECT DISTINCT ON (f.user_id) f.user_id, f.template_id, f.created_at
		 FROM feedback f
		 WHERE f.rating >= 4 AND f.user_id IN (SELECT user_id FROM feedback GROUP BY user_id HAVING count(*) >= 3)
		 ORDER BY f.user_id, f.created_at DESC`,
	);
	await pool.query(
		`CREATE TABLE eval_removed AS
		 SELECT f.execution_id FROM feedback f JOIN eval_holdout h ON h.user_id = f.user_id AND f.created_at >= h.created_at`,
	);
	const removed = await pool.query('DELETE FROM feedback WHERE execution_id IN (SELECT execution_id FROM eval_removed)');
	await pool.query('DELETE FROM executions WHERE id IN (SELECT execution_id FROM eval_removed)');
	await rebuildTemplateStats(pool);
	await pool.query('VACUUM ANALYZE feedback');
	await pool.query('VACUUM ANALYZE executions');
	await pool.query('VACUUM ANALYZE template_stats');
	const ctx = await loadEvaluation(pool);
	log(`held out ${ctx.holdouts.length} users (${removed.rowCount} ratings removed, ${ctx.data.trainingRatings} training ratings)`);
	return { ...ctx, data: { ...SIZE, ...data, heldOutUsers: ctx.holdouts.length, removedRatings: removed.rowCount, trainingRatings: ctx.data.trainingRatings }, drop: db.drop };
}

/** Reads the split of an already prepared database. */
export async function loadEvaluation(pool: Pool): Promise<Omit<EvalContext, 'drop'>> {
	const holdouts = (await pool.query<{ user_id: string; template_id: string }>('SELECT user_id, template_id FROM eval_holdout ORDER BY user_id')).rows.map(
		(r) => ({ userId: r.user_id, templateId: r.template_id }),
	);
	const training = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM feedback')).rows[0].n);
	const popularity = new Map(
		(await pool.query<{ template_id: string; n: string }>('SELECT template_id, sum(rating_count) AS n FROM template_stats GROUP BY template_id')).rows.map(
			(r) => [r.template_id, Number(r.n)],
		),
	);
	return { pool, holdouts, popularity, data: { trainingRatings: training } };
}

export interface Configuration {
	name: string;
	description: string;
	refresh: RefreshOptions;
	forUser: ForUserOptions;
}

export const CONFIGURATIONS: Configuration[] = [
	{
		name: 'recommend (default)',
		description: 'co-liking cosine (shrunk, >= 2 co-raters) + 0.1 x tag/category Jaccard, last 50 ratings, at most 5 of 10 per category',
		refresh: {},
		forUser: {},
	},
	{ name: 'recommend, no category cap', description: 'default neighbours, max per category off', refresh: {}, forUser: { maxPerCategory: 0 } },
	{ name: 'recommend, max 3 per category', description: 'default neighbours, stricter diversity cap', refresh: {}, forUser: { maxPerCategory: 3 } },
	{ name: 'adjusted cosine', description: 'adjusted cosine on user-centred ratings + 0.1 x Jaccard, default cap', refresh: { similarity: 'adjusted_cosine' }, forUser: {} },
	{ name: 'ratings only', description: 'co-liking cosine, no tag/category neighbours, default cap', refresh: { contentWeight: 0, contentNeighborsPerTemplate: 0 }, forUser: {} },
	{ name: 'content only', description: 'tag/category Jaccard only, default cap', refresh: { minCoRaters: 1_000_000 }, forUser: {} },
];

export type Row = { name: string; description: string; refresh?: RefreshResult; metrics: Metrics };

export async function runBaselines(ctx: Omit<EvalContext, 'drop'>, log: (m: string) => void = console.log): Promise<Row[]> {
	const { pool, holdouts, popularity } = ctx;
	const rows: Row[] = [];
	const bayes = await evaluate(pool, holdouts, SIZE.templates, popularity, async (userId) => ({
		ids: (await popularTemplates(pool, { limit: K, excludeUsedBy: userId, maxPerCategory: 0 })).map((r) => r.templateId),
		personalised: false,
	}));
	rows.push({ name: 'popularity: Bayesian average', description: 'the Popular operation (m = 10), used templates excluded, no category cap', metrics: bayes });
	log(`baseline bayesian: HR@10 ${bayes.hr.toFixed(4)}, NDCG@10 ${bayes.ndcg.toFixed(4)}`);
	const mostPop = await evaluate(pool, holdouts, SIZE.templates, popularity, async (userId) => {
		const { rows: r } = await pool.query<{ id: string }>(
			`SELECT t.id FROM templates t JOIN (SELECT template_id, sum(rating_count) AS n FROM template_stats GROUP BY template_id) s ON s.template_id = t.id
			 WHERE NOT EXISTS (SELECT 1 FROM executions e WHERE e.user_id = $1 AND e.template_id = t.id)
			 ORDER BY s.n DESC, t.id LIMIT $2`,
			[userId, K],
		);
		return { ids: r.map((x) => x.id), personalised: false };
	});
	rows.push({ name: 'popularity: most rated', description: 'templates with the most ratings, used templates excluded', metrics: mostPop });
	log(`baseline most rated: HR@10 ${mostPop.hr.toFixed(4)}, NDCG@10 ${mostPop.ndcg.toFixed(4)}`);
	return rows;
}

export async function runConfigurations(ctx: Omit<EvalContext, 'drop'>, configurations: Configuration[], log: (m: string) => void = console.log): Promise<Row[]> {
	const { pool, holdouts, popularity } = ctx;
	const rows: Row[] = [];
	let lastRefresh = '';
	for (const c of configurations) {
		const key = JSON.stringify(c.refresh);
		let refresh: RefreshResult | undefined;
		if (key !== lastRefresh) {
			refresh = await refreshSimilarities(pool, c.refresh);
			lastRefresh = key;
			log(`refreshed neighbours (${c.name}): ${refresh.pairs} pairs in ${refresh.durationMs} ms`);
		}
		const metrics = await evaluate(pool, holdouts, SIZE.templates, popularity, async (userId) => {
			const list = await recommendForUser(pool, userId, { limit: K, refreshIfOlderThanHours: 0, ...c.forUser });
			return { ids: list.items.map((i) => i.templateId), personalised: list.strategy === 'personalised' };
		});
		rows.push({ name: c.name, description: c.description, refresh, metrics });
		log(`${c.name}: HR@10 ${metrics.hr.toFixed(4)}, NDCG@10 ${metrics.ndcg.toFixed(4)}, MRR ${metrics.mrr.toFixed(4)}, coverage ${(metrics.coverage * 100).toFixed(1)}%`);
	}
	return rows;
}

async function main(): Promise<void> {
	const ctx = await prepareEvaluation();
	try {
		const baselines = await runBaselines(ctx);
		const rows = [...baselines, ...(await runConfigurations(ctx, CONFIGURATIONS))];
		const bayes = baselines[0].metrics;
		const strongest = baselines.reduce((a, b) => (b.metrics.ndcg > a.metrics.ndcg ? b : a));
		const table = [
			'| list | HR@10 (95% CI) | NDCG@10 (95% CI) | MRR@10 | NDCG vs strongest baseline | coverage | mean popularity | ms/user (4 in parallel) |',
			'|---|---|---|---|---|---|---|---|',
			...rows.map(
				(r) =>
					`| ${r.name} | ${r.metrics.hr.toFixed(4)} (${r.metrics.hrCi[0].toFixed(3)}–${r.metrics.hrCi[1].toFixed(3)}) | ` +
					`${r.metrics.ndcg.toFixed(4)} (${r.metrics.ndcgCi[0].toFixed(3)}–${r.metrics.ndcgCi[1].toFixed(3)}) | ${r.metrics.mrr.toFixed(4)} | ` +
					`${(r.metrics.ndcg / strongest.metrics.ndcg).toFixed(2)}× | ${(r.metrics.coverage * 100).toFixed(1)}% | ${r.metrics.meanPopularity.toFixed(0)} | ${r.metrics.msPerUser.toFixed(1)} |`,
			),
		].join('\n');
		console.log(`\n${table}\n`);
		const main = rows.find((r) => r.name === 'recommend (default)')!;
		const ratio = main.metrics.ndcg / strongest.metrics.ndcg;
		const ratioBayes = main.metrics.ndcg / bayes.ndcg;
		console.log(`goal NDCG@10 >= 1.3 x baseline: ${ratio.toFixed(2)}x the strongest baseline (${strongest.name}), ${ratioBayes.toFixed(2)}x the Bayesian popular list -> ${ratio >= 1.3 ? 'met' : 'NOT met'}`);

		const outDir = join(__dirname, 'results');
		mkdirSync(outDir, { recursive: true });
		writeFileSync(
			join(outDir, 'recommend-eval.json'),
			`${JSON.stringify(
				{
					benchmark: 'recommend-eval',
					date: new Date().toISOString(),
					protocol:
						'temporal leave-last-positive-out (latest rating >= 4 and everything after it held out, template_stats and neighbours rebuilt from the rest), full-catalogue ranking, used templates excluded, K = 10',
					data: ctx.data,
					goal: { ndcgRatioAtLeast: 1.3, strongestBaseline: strongest.name, ratio, ratioVsBayesianPopular: ratioBayes, met: ratio >= 1.3 },
					rows,
					table,
				},
				null,
				'\t',
			)}\n`,
		);
	} finally {
		await ctx.drop();
	}
}

if (require.main === module) {
	main().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
