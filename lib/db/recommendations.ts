/**
 * Recommendations repository (research report §3): the SQL behind lib/recommendations. Rows in,
 * rows out; ranking rules, category caps, reasons and refresh scheduling live in the use cases.
 *
 * Item-item similarity over millions of ratings is far too slow to compute per request, so
 * rebuildNeighbors rebuilds template_neighbors (top-K per template) in SQL: rating similarity
 * (adjusted cosine on user-mean-centred ratings, or co-liking cosine) shrunk by the number of
 * co-raters, blended with tag/category Jaccard so templates with few ratings still have
 * neighbours. "For user" then joins the user's last ~50 rated templates with that table: a few
 * thousand rows, whatever the size of the feedback table.
 *
 * Popularity ranks in SQL with the same formulas as lib/stats popularityScore (Bayesian average
 * or Wilson lower bound), never by a raw mean.
 */
import type { Pool } from 'pg';

import type { PopularityMethod } from '../stats';
import { withTransaction, type Queryable } from './pool';
import type { TemplateKind } from './templates';

export type SimilarityMethod = 'adjusted_cosine' | 'cooccurrence';
export const SIMILARITY_METHODS: readonly SimilarityMethod[] = ['adjusted_cosine', 'cooccurrence'];
export type PopularityRanking = Extract<PopularityMethod, 'bayesian_average' | 'wilson'>;
export const POPULARITY_RANKINGS: readonly PopularityRanking[] = ['bayesian_average', 'wilson'];

/** Validated filters (lib/recommendations/inputs.ts): tags lower-cased and unique. */
export interface RecommendFilters {
	kind?: TemplateKind;
	category?: string;
	/** A template must have at least one of these tags. */
	tags?: string[];
}

export interface PopularityParameters {
	method: PopularityRanking;
	/** m of the Bayesian average: pseudo-ratings at the catalog mean. */
	priorWeight: number;
	/** z of the Wilson bound. */
	z: number;
}

/** The template columns every recommendation row carries. */
export interface TemplateRow {
	id: string;
	name: string;
	kind: TemplateKind;
	category: string | null;
	tags: string[];
	description: string;
}

/** Neighbours read per history template (the table keeps at most rating K + content K). */
const MAX_NEIGHBORS_PER_SOURCE = 200;

/** The filter conditions on templates alias `t`, as SQL fragments with their values added through `param`. */
function filterSql(filters: RecommendFilters, param: (value: unknown) => string): string[] {
	const where: string[] = ['t.archived_at IS NULL'];
	if (filters.kind) where.push(`t.kind = ${param(filters.kind)}`);
	if (filters.category?.trim()) where.push(`lower(t.category) = lower(${param(filters.category.trim())})`);
	if (filters.tags?.length) where.push(`t.tags && ${param(filters.tags)}::text[]`);
	return where;
}

function parameters(initial: unknown[] = []) {
	const values = [...initial];
	const param = (value: unknown) => {
		values.push(value);
		return `$${values.length}`;
	};
	return { values, param };
}

// ───────────────────────────── popularity ─────────────────────────────

export interface PopularQuery {
	filters: RecommendFilters;
	popularity: PopularityParameters;
	/** Leave out templates this user already used (executions or feedback). */
	excludeUsedBy?: string;
	/** Leave out these template IDs. */
	excludeTemplateIds?: string[];
	fetch: number;
	offset: number;
}

export interface PopularRow extends TemplateRow {
	rating_count: number;
	rating_sum: number;
	good_count: number;
	prior_mean: number;
	score: number;
}

/**
 * Candidates in popularity order (no category cap): `fetch` rows after skipping `offset`. Scores
 * come from the rating aggregates of all versions in template_stats.
 */
export async function popularPage(db: Queryable, query: PopularQuery): Promise<PopularRow[]> {
	const { values, param } = parameters();
	const popularity = query.popularity;
	const where = filterSql(query.filters, param);
	if (query.excludeUsedBy !== undefined) {
		const user = param(query.excludeUsedBy);
		where.push(`NOT EXISTS (SELECT 1 FROM feedback f WHERE f.user_id = ${user} AND f.template_id = t.id)`);
		where.push(`NOT EXISTS (SELECT 1 FROM executions e WHERE e.user_id = ${user} AND e.template_id = t.id)`);
	}
	if (query.excludeTemplateIds?.length) where.push(`NOT (t.id = ANY(${param(query.excludeTemplateIds)}::uuid[]))`);
	const fetch = query.fetch;
	const offset = query.offset;
	const wilson = popularity.method === 'wilson';
	// Same formulas as lib/stats bayesianAverage and wilsonLowerBound. The histogram (good
	// ratings) is only read for Wilson: unpacking 10,000 arrays doubles the cost of the aggregate.
	const z = wilson ? param(popularity.z) : '';
	const m = wilson ? '' : param(popularity.priorWeight);
	const scoreSql = wilson
		? `CASE WHEN n = 0 THEN 0 ELSE ((good / n) + ${z}::float8 ^ 2 / (2 * n)
				- ${z}::float8 * sqrt(greatest((good / n) * (1 - good / n) / n + ${z}::float8 ^ 2 / (4 * n * n), 0)))
				/ (1 + ${z}::float8 ^ 2 / n) END`
		: `(s + ${m}::float8 * prior_mean) / (n + ${m}::float8)`;
	const { rows } = await db.query<PopularRow>(
		`WITH per AS (
			SELECT template_id, sum(rating_count::float8) AS n, sum(rating_sum::float8) AS s
			       ${wilson ? ', sum((rating_hist[4] + rating_hist[5])::float8) AS good' : ', 0::float8 AS good'}
			FROM template_stats GROUP BY template_id
		), prior AS (
			SELECT coalesce(sum(s) / nullif(sum(n), 0), 3)::float8 AS prior_mean FROM per
		)
		SELECT id, name, kind, category, tags, description, n AS rating_count, s AS rating_sum, good AS good_count, prior_mean, ${scoreSql} AS score
		FROM (SELECT t.id, t.name, t.kind, t.category, t.tags, t.description,
		             coalesce(per.n, 0) AS n, coalesce(per.s, 0) AS s, coalesce(per.good, 0) AS good, prior.prior_mean
		      FROM templates t LEFT JOIN per ON per.template_id = t.id CROSS JOIN prior
		      WHERE ${where.join(' AND ')}) x
		ORDER BY score DESC, n DESC, id LIMIT ${param(fetch)} OFFSET ${param(offset)}`,
		values,
	);
	return rows;
}

// ───────────────────────────── for user ─────────────────────────────

/** The user's most recently rated templates with their mean rating of each, newest first. */
export async function ratingHistory(db: Queryable, userId: string, historySize: number): Promise<Array<{ templateId: string; rating: number }>> {
	const { rows } = await db.query<{ template_id: string; rating: number }>(
		`SELECT template_id, avg(rating)::float8 AS rating FROM feedback
		 WHERE user_id = $1 AND template_id IS NOT NULL
		 GROUP BY template_id ORDER BY max(created_at) DESC, template_id LIMIT $2`,
		[userId, historySize],
	);
	return rows.map((r) => ({ templateId: r.template_id, rating: Number(r.rating) }));
}

export interface CandidateRow extends TemplateRow {
	score: number;
	because_id: string;
	because_name: string;
	because_rating: number;
}

/**
 * Neighbours of the rated templates scored Σ (rating − 3) × similarity (disliked templates push
 * their neighbours down), only candidates of a well-rated (≥ 4) template, none the user used.
 */
export async function personalisedCandidates(
	db: Queryable,
	query: { userId: string; history: Array<{ templateId: string; rating: number }>; filters: RecommendFilters; fetch: number },
): Promise<CandidateRow[]> {
	const { values, param } = parameters();
	const ids = param(query.history.map((r) => r.templateId));
	const ratings = param(query.history.map((r) => r.rating));
	const user = param(query.userId);
	const where = filterSql(query.filters, param);
	const { rows } = await db.query<CandidateRow>(
		`WITH hist AS (
			SELECT * FROM unnest(${ids}::uuid[], ${ratings}::float8[]) AS h(template_id, rating) WHERE rating <> 3
		), contrib AS (
			SELECT n.neighbor_id, h.template_id AS source_id, h.rating, (h.rating - 3) * n.score AS c
			-- a nested loop over the few history rows, whatever the planner guesses about the table
			FROM hist h CROSS JOIN LATERAL (
				SELECT neighbor_id, score FROM template_neighbors n WHERE n.template_id = h.template_id
				ORDER BY n.score DESC LIMIT ${param(MAX_NEIGHBORS_PER_SOURCE)}) n
		), cand AS (
			SELECT neighbor_id AS id, sum(c) AS score,
			       (array_agg(source_id ORDER BY c DESC))[1] AS because_id,
			       (array_agg(rating ORDER BY c DESC))[1] AS because_rating
			FROM contrib GROUP BY neighbor_id HAVING bool_or(rating >= 4) AND sum(c) > 0
		)
		SELECT t.id, t.name, t.kind, t.category, t.tags, t.description, cand.score,
		       cand.because_id, b.name AS because_name, cand.because_rating
		FROM cand
		JOIN templates t ON t.id = cand.id
		JOIN templates b ON b.id = cand.because_id
		WHERE ${where.join(' AND ')}
		  AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.user_id = ${user} AND f.template_id = cand.id)
		  AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.user_id = ${user} AND e.template_id = cand.id)
		ORDER BY cand.score DESC, t.id
		LIMIT ${param(query.fetch)}`,
		values,
	);
	return rows;
}

// ───────────────────────────── similar templates ─────────────────────────────

export interface NeighborRow extends TemplateRow {
	score: number;
	cf_score: number;
	content_score: number;
	co_raters: number;
}

/** The precomputed neighbours of a template, best first. */
export async function storedNeighbors(db: Queryable, templateId: string, filters: RecommendFilters, fetchCount: number): Promise<NeighborRow[]> {
	const { values, param } = parameters([templateId]);
	const where = filterSql(filters, param);
	const fetch = param(fetchCount);
	const { rows } = await db.query<NeighborRow>(
		`SELECT t.id, t.name, t.kind, t.category, t.tags, t.description, n.score, n.cf_score, n.content_score, n.co_raters
		 FROM template_neighbors n JOIN templates t ON t.id = n.neighbor_id
		 WHERE n.template_id = $1 AND ${where.join(' AND ')}
		 ORDER BY n.score DESC, t.id LIMIT ${fetch}`,
		values,
	);
	return rows;
}

/**
 * Tag/category matches computed on the fly (Jaccard over tags + category), for templates created
 * since the last refresh, which have no neighbours yet.
 */
export async function contentMatches(
	db: Queryable,
	template: { id: string; tags: string[]; category: string | null },
	filters: RecommendFilters,
	excludeIds: string[],
	fetchCount: number,
): Promise<NeighborRow[]> {
	const { values: contentValues, param: p } = parameters([template.id]);
	const features = [...template.tags, ...(template.category ? [`category:${template.category.toLowerCase()}`] : [])];
	const contentWhere = filterSql(filters, p);
	const feat = p(features);
	const { rows: extra } = await db.query<NeighborRow>(
		`SELECT id, name, kind, category, tags, description, score, 0::float8 AS cf_score, score AS content_score, 0 AS co_raters
		 FROM (SELECT t.*, (SELECT count(*) FROM unnest(f.features) x WHERE x = ANY(${feat}::text[]))::float8
		              / nullif(cardinality(ARRAY(SELECT DISTINCT y FROM unnest(f.features || ${feat}::text[]) y)), 0) AS score
		       FROM templates t
		       CROSS JOIN LATERAL (SELECT t.tags || CASE WHEN t.category IS NULL THEN '{}'::text[]
		                                              ELSE ARRAY['category:' || lower(t.category)] END AS features) f
		       WHERE t.id <> $1 AND ${contentWhere.join(' AND ')} AND NOT (t.id = ANY(${p(excludeIds)}::uuid[]))
		         AND (t.tags && ${p(template.tags)}::text[] OR lower(t.category) = lower(${p(template.category ?? '')}))) c
		 WHERE score > 0 ORDER BY score DESC, id LIMIT ${p(fetchCount)}`,
		contentValues,
	);
	return extra;
}

// ───────────────────────────── refresh ─────────────────────────────

/** Parameters of a neighbour rebuild (validated and defaulted by lib/recommendations/refresh.ts). */
export interface RefreshParameters {
	similarity: SimilarityMethod;
	neighborsPerTemplate: number;
	contentNeighborsPerTemplate: number;
	minCoRaters: number;
	shrinkage: number;
	contentWeight: number;
	maxRatingsPerUser: number;
	maxFeatureShare: number;
}

export interface RefreshResult {
	refreshedAt: string;
	durationMs: number;
	templates: number;
	pairs: number;
	ratings: number;
	parameters: RefreshParameters;
	/** Milliseconds per step (ratings, pairs, topK, content, write). */
	steps: Record<string, number>;
	/** false when another worker held the lock and skipIfBusy was set. */
	refreshed: boolean;
}

export interface SimilarityState {
	refreshedAt: string;
	durationMs: number;
	templates: number;
	pairs: number;
	ratings: number;
	parameters: Partial<RefreshParameters>;
}

export async function getSimilarityState(db: Queryable): Promise<SimilarityState | null> {
	const { rows } = await db.query<{ refreshed_at: Date; duration_ms: number; templates: number; pairs: string; ratings: string; parameters: Partial<RefreshParameters> }>(
		'SELECT refreshed_at, duration_ms, templates, pairs, ratings, parameters FROM template_neighbors_refresh WHERE id',
	);
	if (rows.length === 0) return null;
	const r = rows[0];
	return {
		refreshedAt: r.refreshed_at.toISOString(),
		durationMs: r.duration_ms,
		templates: r.templates,
		pairs: Number(r.pairs),
		ratings: Number(r.ratings),
		parameters: r.parameters,
	};
}

/**
 * Rebuilds template_neighbors in one transaction (readers keep the old table until commit) under
 * an advisory lock, so concurrent rebuilds run one after the other; with `skipIfBusy` a rebuild
 * that finds another one running returns at once. Deterministic: the same data gives the same rows.
 */
export async function rebuildNeighbors(pool: Pool, p: RefreshParameters, skipIfBusy = false): Promise<RefreshResult> {
	const started = Date.now();
	return withTransaction(pool, async (client) => {
		const lockKey = 'n8n-nodes-promptlab:template-neighbors';
		if (skipIfBusy) {
			const { rows } = await client.query<{ locked: boolean }>(
				'SELECT pg_try_advisory_xact_lock(hashtext($1 || current_schema())) AS locked',
				[lockKey],
			);
			if (!rows[0].locked) {
				const state = await getSimilarityState(client);
				return {
					refreshedAt: state?.refreshedAt ?? new Date(0).toISOString(),
					durationMs: 0,
					templates: state?.templates ?? 0,
					pairs: state?.pairs ?? 0,
					ratings: state?.ratings ?? 0,
					parameters: p,
					steps: {},
					refreshed: false,
				};
			}
		} else {
			await client.query('SELECT pg_advisory_xact_lock(hashtext($1 || current_schema()))', [lockKey]);
		}
		// Sorting and hashing millions of pairs: give this transaction room (session value untouched).
		await client.query("SET LOCAL work_mem = '128MB'");
		const steps: Record<string, number> = {};
		const step = async (name: string, sql: string, values: unknown[] = []) => {
			const t0 = Date.now();
			const result = await client.query(sql, values);
			steps[name] = (steps[name] ?? 0) + Date.now() - t0;
			return result;
		};

		// 1. One value per (user, template): the mean of the user's ratings of it, latest N templates per user.
		await step(
			'ratings',
			`CREATE TEMP TABLE pl_ur ON COMMIT DROP AS
			 SELECT user_id, template_id, r, r - avg(r) OVER (PARTITION BY user_id) AS d, count(*) OVER (PARTITION BY user_id) AS n
			 FROM (
				SELECT f.user_id, f.template_id, avg(f.rating)::float8 AS r,
				       row_number() OVER (PARTITION BY f.user_id ORDER BY max(f.created_at) DESC, f.template_id) AS rn
				FROM feedback f JOIN templates t ON t.id = f.template_id AND t.archived_at IS NULL
				GROUP BY f.user_id, f.template_id
			 ) x WHERE rn <= $1`,
			[p.maxRatingsPerUser],
		);
		const ratingCount = await client.query<{ n: string }>('SELECT count(*) AS n FROM pl_ur');
		await step('ratings', 'DELETE FROM pl_ur WHERE n < 2'); // a lone rating co-occurs with nothing
		await step('ratings', 'ANALYZE pl_ur');

		// 2. Rating similarity of every co-rated pair (i < j), then the top K per template.
		const cooccurrence = p.similarity === 'cooccurrence';
		await step(
			'pairs',
			`CREATE TEMP TABLE pl_norm ON COMMIT DROP AS
			 SELECT template_id, sqrt(sum(d * d)) AS norm, count(*) FILTER (WHERE r >= 4) AS likes FROM pl_ur GROUP BY template_id`,
		);
		await step(
			'pairs',
			`CREATE TEMP TABLE pl_pairs ON COMMIT DROP AS
			 SELECT a.template_id AS i, b.template_id AS j, count(*) AS n, sum(a.d * b.d) AS dot
			 FROM pl_ur a JOIN pl_ur b ON b.user_id = a.user_id AND b.template_id > a.template_id
			 ${cooccurrence ? 'WHERE a.r >= 4 AND b.r >= 4' : ''}
			 GROUP BY 1, 2 HAVING count(*) >= $1`,
			[p.minCoRaters],
		);
		const cfExpr = cooccurrence
			? 'p.n / sqrt(ni.likes::float8 * nj.likes)'
			: 'CASE WHEN ni.norm > 0 AND nj.norm > 0 THEN p.dot / (ni.norm * nj.norm) ELSE 0 END';
		await step(
			'topK',
			`CREATE TEMP TABLE pl_cf ON COMMIT DROP AS
			 WITH scored AS (
				SELECT p.i, p.j, p.n::int AS n, (${cfExpr}) * p.n / (p.n + $2::float8) AS cf
				FROM pl_pairs p JOIN pl_norm ni ON ni.template_id = p.i JOIN pl_norm nj ON nj.template_id = p.j
			 ), both_ways AS (
				SELECT i, j, cf, n FROM scored WHERE cf > 0
				UNION ALL SELECT j, i, cf, n FROM scored WHERE cf > 0
			 )
			 SELECT i, j, cf, n FROM (
				SELECT i, j, cf, n, row_number() OVER (PARTITION BY i ORDER BY cf DESC, j) AS rk FROM both_ways
			 ) ranked WHERE rk <= $1`,
			[p.neighborsPerTemplate, p.shrinkage],
		);

		// 3. Content similarity (Jaccard over tags + category, informative features only) for the
		//    templates whose rating list is not full: new or rarely rated ones. Their tag neighbours
		//    point back to them too, so a new template can be recommended from a liked one.
		//    Well-rated templates keep pure rating neighbours, which also keeps this step cheap on a
		//    large catalogue (pairs through a popular tag grow with the square of its templates).
		await step(
			'content',
			`CREATE TEMP TABLE pl_feat ON COMMIT DROP AS
			 SELECT t.id, f.feature, cardinality(t.tags) + (t.category IS NOT NULL)::int AS nf
			 FROM templates t CROSS JOIN LATERAL unnest(t.tags || CASE WHEN t.category IS NULL THEN '{}'::text[]
			                                                     ELSE ARRAY['category:' || lower(t.category)] END) AS f(feature)
			 WHERE t.archived_at IS NULL`,
		);
		await step(
			'content',
			`CREATE TEMP TABLE pl_content ON COMMIT DROP AS
			 WITH thin AS (
				SELECT t.id FROM templates t LEFT JOIN (SELECT i, count(*) AS k FROM pl_cf GROUP BY i) c ON c.i = t.id
				WHERE t.archived_at IS NULL AND coalesce(c.k, 0) < $3
			 ), informative AS (
				SELECT feature FROM pl_feat GROUP BY feature
				HAVING count(*) <= greatest(50, $2::float8 * (SELECT count(DISTINCT id) FROM pl_feat))
			 ), top AS (
				SELECT i, j, jaccard FROM (
					SELECT i, j, jaccard, row_number() OVER (PARTITION BY i ORDER BY jaccard DESC, j) AS rk
					FROM (
						SELECT a.id AS i, b.id AS j, count(*)::float8 / (min(a.nf) + min(b.nf) - count(*)) AS jaccard
						FROM thin JOIN pl_feat a ON a.id = thin.id JOIN informative USING (feature)
						JOIN pl_feat b ON b.feature = a.feature AND b.id <> a.id
						GROUP BY a.id, b.id
					) pairs
				) ranked WHERE rk <= $1
			 )
			 SELECT i, j, jaccard FROM top UNION SELECT j, i, jaccard FROM top`,
			[p.contentNeighborsPerTemplate, p.maxFeatureShare, p.neighborsPerTemplate],
		);

		// 4. Swap in the new neighbours: union of both lists, blended score.
		await step('write', 'ANALYZE pl_cf');
		await step('write', 'ANALYZE pl_feat');
		await step('write', 'ANALYZE pl_content');
		await step('write', 'DELETE FROM template_neighbors');
		const inserted = await step(
			'write',
			`WITH cf_content AS (
				SELECT c.i, c.j, count(*)::float8 / (min(a.nf) + min(b.nf) - count(*)) AS jaccard
				FROM pl_cf c JOIN pl_feat a ON a.id = c.i JOIN pl_feat b ON b.id = c.j AND b.feature = a.feature
				GROUP BY c.i, c.j
			 )
			 INSERT INTO template_neighbors (template_id, neighbor_id, score, cf_score, content_score, co_raters)
			 SELECT coalesce(c.i, k.i), coalesce(c.j, k.j),
			        coalesce(c.cf, 0) + $1::float8 * coalesce(k.jaccard, cc.jaccard, 0),
			        coalesce(c.cf, 0), coalesce(k.jaccard, cc.jaccard, 0), coalesce(c.n, 0)
			 FROM pl_cf c
			 FULL JOIN pl_content k ON k.i = c.i AND k.j = c.j
			 LEFT JOIN cf_content cc ON cc.i = c.i AND cc.j = c.j`,
			[p.contentWeight],
		);
		const templates = await client.query<{ n: string }>('SELECT count(*) AS n FROM templates WHERE archived_at IS NULL');
		const durationMs = Date.now() - started;
		const { rows } = await client.query<{ refreshed_at: Date }>(
			`INSERT INTO template_neighbors_refresh (id, refreshed_at, duration_ms, templates, pairs, ratings, parameters)
			 VALUES (true, now(), $1, $2, $3, $4, $5)
			 ON CONFLICT (id) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at, duration_ms = EXCLUDED.duration_ms,
				templates = EXCLUDED.templates, pairs = EXCLUDED.pairs, ratings = EXCLUDED.ratings, parameters = EXCLUDED.parameters
			 RETURNING refreshed_at`,
			[durationMs, Number(templates.rows[0].n), inserted.rowCount ?? 0, Number(ratingCount.rows[0].n), JSON.stringify(p)],
		);
		return {
			refreshedAt: rows[0].refreshed_at.toISOString(),
			durationMs,
			templates: Number(templates.rows[0].n),
			pairs: inserted.rowCount ?? 0,
			ratings: Number(ratingCount.rows[0].n),
			parameters: p,
			steps,
			refreshed: true,
		};
	});
}

