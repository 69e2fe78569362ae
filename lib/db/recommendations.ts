/**
 * Recommendations repository (research report §3): personalised "for user" lists from item-item
 * similarity, cold-start popularity, similar templates, and the refresh of the precomputed
 * neighbours table.
 *
 * Item-item similarity over millions of ratings is far too slow to compute per request, so
 * "Refresh Similarities" rebuilds template_neighbors (top-K per template) in SQL: rating
 * similarity (adjusted cosine on user-mean-centred ratings, or co-liking cosine) shrunk by the
 * number of co-raters, blended with tag/category Jaccard so templates with few ratings still have
 * neighbours. "For user" then joins the user's last ~50 rated templates with that table:
 * a few thousand rows, whatever the size of the feedback table.
 *
 * Popularity ranks by a Bayesian average (or Wilson lower bound) from template_stats, never by a
 * raw mean: one 5-star rating must not top the list. SQL ranks with the same formula as
 * lib/stats popularityScore, which recomputes each returned score.
 */
import type { Pool } from 'pg';

import { popularityScore, type PopularityMethod } from '../stats';
import { ConflictError } from './errors';
import { withTransaction, type Queryable } from './pool';
import { getTemplate, type TemplateKind, type TemplateRef } from './templates';

export type SimilarityMethod = 'adjusted_cosine' | 'cooccurrence';
export const SIMILARITY_METHODS: readonly SimilarityMethod[] = ['adjusted_cosine', 'cooccurrence'];
export type PopularityRanking = Extract<PopularityMethod, 'bayesian_average' | 'wilson'>;
export const POPULARITY_RANKINGS: readonly PopularityRanking[] = ['bayesian_average', 'wilson'];

export interface RecommendFilters {
	kind?: TemplateKind;
	category?: string;
	/** A template must have at least one of these tags. */
	tags?: string[];
}

export interface PopularityOptions {
	method?: PopularityRanking;
	/** m of the Bayesian average: pseudo-ratings at the catalog mean (default 10). */
	priorWeight?: number;
	/** z of the Wilson bound (default 1.96). */
	z?: number;
}

export interface ListOptions extends RecommendFilters {
	/** Default 10, at most 100. */
	limit?: number;
	/**
	 * At most this many results per category (diversity); 0 = no cap. Default: half the limit, rounded
	 * up; no cap when filtering by category.
	 */
	maxPerCategory?: number;
	popularity?: PopularityOptions;
}

export interface ForUserOptions extends ListOptions {
	/** How many of the user's most recently rated templates drive the list (default 50). */
	historySize?: number;
	/** Below this many well-rated (≥ 4) templates the user gets the popular list (default 1). */
	minLikedTemplates?: number;
	/**
	 * Rebuild the neighbours when older than this many hours: in the background (one worker,
	 * advisory lock) while this call answers from the current table; synchronously when they
	 * were never built. 0 disables automatic refreshes. Default 24.
	 */
	refreshIfOlderThanHours?: number;
	/** Parameters of an automatic refresh. */
	refresh?: RefreshOptions;
}

export type RecommendationStrategy = 'personalised' | 'popular' | 'similar';

export interface Recommendation {
	templateId: string;
	name: string;
	kind: TemplateKind;
	category: string | null;
	tags: string[];
	description: string;
	/** Personalised: Σ (rating − 3) × similarity; popular: the popularity score; similar: similarity. */
	score: number;
	strategy: RecommendationStrategy;
	reason: string;
	/** The rated template that contributed most (personalised). */
	because?: { templateId: string; name: string; rating: number };
	popularity?: { ratingCount: number; meanRating: number | null; score: number; method: PopularityRanking };
	similarity?: { cfScore: number; contentScore: number; coRaters: number };
}

export interface UserRecommendations {
	userId: string;
	/** 'personalised' when at least one result comes from the user's history, else 'popular'. */
	strategy: 'personalised' | 'popular';
	items: Recommendation[];
	history: { ratedTemplates: number; likedTemplates: number };
	neighborsRefreshedAt: string | null;
}

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
const DEFAULT_PRIOR_WEIGHT = 10;
/** Neighbours read per history template (the table keeps at most rating K + content K). */
const MAX_NEIGHBORS_PER_SOURCE = 200;

interface TemplateRow {
	id: string;
	name: string;
	kind: TemplateKind;
	category: string | null;
	tags: string[];
	description: string;
}

function base(row: TemplateRow): Pick<Recommendation, 'templateId' | 'name' | 'kind' | 'category' | 'tags' | 'description'> {
	return { templateId: row.id, name: row.name, kind: row.kind, category: row.category, tags: row.tags, description: row.description };
}

function checkLimit(limit: number | undefined): number {
	const value = limit ?? DEFAULT_LIMIT;
	if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
		throw new ConflictError(`Limit must be a whole number from 1 to ${MAX_LIMIT}, got ${String(limit)}`, 'limit');
	}
	return value;
}

/**
 * Default cap: at most half of the list from one category; none when the list is filtered to one
 * category (a cap would only shorten it).
 */
function checkCap(cap: number | undefined, limit: number, category?: string): number {
	const value = cap ?? (category?.trim() ? 0 : Math.ceil(limit / 2));
	if (!Number.isInteger(value) || value < 0) throw new ConflictError(`Max per category must be a whole number of 0 or more, got ${String(cap)}`, 'maxPerCategory');
	return value;
}

function checkPopularity(options: PopularityOptions | undefined): Required<PopularityOptions> {
	const method = options?.method ?? 'bayesian_average';
	if (!POPULARITY_RANKINGS.includes(method)) {
		throw new ConflictError(`Unknown popularity ranking "${String(method)}" (use ${POPULARITY_RANKINGS.join(' or ')})`, 'popularityMethod');
	}
	const priorWeight = options?.priorWeight ?? DEFAULT_PRIOR_WEIGHT;
	if (!(priorWeight > 0) || !Number.isFinite(priorWeight)) throw new ConflictError(`Prior weight must be above 0, got ${String(priorWeight)}`, 'priorWeight');
	const z = options?.z ?? 1.96;
	if (!(z > 0) || !Number.isFinite(z)) throw new ConflictError(`z must be above 0, got ${String(z)}`, 'z');
	return { method, priorWeight, z };
}

function normaliseTags(tags: string[] | undefined): string[] {
	return [...new Set((tags ?? []).map((t) => t.trim().toLowerCase()).filter((t) => t.length > 0))];
}

/** Appends the filter conditions on templates alias `t`; returns SQL fragments. */
function filterSql(filters: RecommendFilters, param: (value: unknown) => string): string[] {
	const where: string[] = ['t.archived_at IS NULL'];
	if (filters.kind) {
		if (filters.kind !== 'image' && filters.kind !== 'text') throw new ConflictError(`Unknown kind "${String(filters.kind)}" (use image or text)`, 'kind');
		where.push(`t.kind = ${param(filters.kind)}`);
	}
	if (filters.category?.trim()) where.push(`lower(t.category) = lower(${param(filters.category.trim())})`);
	const tags = normaliseTags(filters.tags);
	if (tags.length) where.push(`t.tags && ${param(tags)}::text[]`);
	return where;
}

function categoryKey(category: string | null): string {
	return (category ?? '').toLowerCase();
}

/** Keeps list order, skipping duplicates and anything over the per-category cap. */
function capByCategory(items: Recommendation[], cap: number, limit: number, counts = new Map<string, number>(), seen = new Set<string>()): Recommendation[] {
	const out: Recommendation[] = [];
	for (const item of items) {
		if (out.length >= limit) break;
		if (seen.has(item.templateId)) continue;
		const key = categoryKey(item.category);
		const n = counts.get(key) ?? 0;
		if (cap > 0 && n >= cap) continue;
		counts.set(key, n + 1);
		seen.add(item.templateId);
		out.push(item);
	}
	return out;
}

function formatRating(rating: number): string {
	return Number.isInteger(rating) ? String(rating) : rating.toFixed(1);
}

// ───────────────────────────── popularity ─────────────────────────────

export interface PopularOptions extends ListOptions {
	/** Leave out templates this user already used (executions or feedback). */
	excludeUsedBy?: string;
	/** Leave out these template IDs. */
	excludeTemplateIds?: string[];
}

interface PopularRow extends TemplateRow {
	rating_count: number;
	rating_sum: number;
	good_count: number;
	prior_mean: number;
	score: number;
}

/**
 * Candidates in popularity order (no category cap): `fetch` rows after skipping `offset`.
 * Scores come from the rating aggregates of all versions in template_stats; SQL ranks with the
 * same formula as lib/stats, which recomputes each returned score.
 */
async function popularPage(db: Queryable, options: PopularOptions, popularity: Required<PopularityOptions>, fetch: number, offset: number): Promise<Recommendation[]> {
	const values: unknown[] = [];
	const param = (value: unknown) => {
		values.push(value);
		return `$${values.length}`;
	};
	const where = filterSql(options, param);
	if (options.excludeUsedBy !== undefined) {
		const user = param(options.excludeUsedBy);
		where.push(`NOT EXISTS (SELECT 1 FROM feedback f WHERE f.user_id = ${user} AND f.template_id = t.id)`);
		where.push(`NOT EXISTS (SELECT 1 FROM executions e WHERE e.user_id = ${user} AND e.template_id = t.id)`);
	}
	if (options.excludeTemplateIds?.length) where.push(`NOT (t.id = ANY(${param(options.excludeTemplateIds)}::uuid[]))`);
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
	return rows.map((r) => {
		const ratingCount = Number(r.rating_count);
		const ratingSum = Number(r.rating_sum);
		const score = popularityScore(
			{ ratingCount, ratingSum, goodCount: Number(r.good_count) },
			{ method: popularity.method, priorMean: Number(r.prior_mean), priorWeight: popularity.priorWeight, z: popularity.z },
		);
		const meanRating = ratingCount > 0 ? ratingSum / ratingCount : null;
		return {
			...base(r),
			score,
			strategy: 'popular' as const,
			reason:
				ratingCount === 0
					? 'new template: no ratings yet'
					: wilson
						? `popular: ${Math.round((Number(r.good_count) / ratingCount) * 100)}% of ${ratingCount} ratings are 4★ or 5★`
						: `popular: ${(meanRating as number).toFixed(1)}★ average over ${ratingCount} rating${ratingCount === 1 ? '' : 's'}`,
			popularity: { ratingCount, meanRating, score, method: popularity.method },
		};
	});
}

/**
 * Appends popular templates to `into` until it holds `limit` items, honouring the category cap
 * across everything already in the list. Pages through the ranking (the cap can skip many rows
 * when one category dominates the top).
 */
async function fillWithPopular(
	db: Queryable,
	options: PopularOptions,
	into: Recommendation[],
	limit: number,
	cap: number,
	counts: Map<string, number>,
	seen: Set<string>,
): Promise<void> {
	const popularity = checkPopularity(options.popularity);
	let offset = 0;
	let fetch = cap > 0 ? (limit - into.length) * 4 + 20 : limit - into.length + seen.size;
	while (into.length < limit) {
		const page = await popularPage(db, options, popularity, fetch, offset);
		into.push(...capByCategory(page, cap, limit - into.length, counts, seen));
		if (page.length < fetch) break; // the catalogue is exhausted
		offset += fetch;
		fetch *= 4;
	}
}

/**
 * Templates ranked by popularity (Bayesian average by default, or Wilson lower bound), never by
 * a raw mean; optionally without the templates a user already used; per-category cap.
 */
export async function popularTemplates(db: Queryable, options: PopularOptions = {}): Promise<Recommendation[]> {
	const limit = checkLimit(options.limit);
	const cap = checkCap(options.maxPerCategory, limit, options.category);
	checkPopularity(options.popularity);
	const items: Recommendation[] = [];
	await fillWithPopular(db, options, items, limit, cap, new Map(), new Set());
	return items;
}

// ───────────────────────────── for user ─────────────────────────────

interface HistoryRow {
	template_id: string;
	rating: number;
}

interface CandidateRow extends TemplateRow {
	score: number;
	because_id: string;
	because_name: string;
	because_rating: number;
}

export function normaliseUserId(userId: unknown): string {
	const id = typeof userId === 'number' ? String(userId) : typeof userId === 'string' ? userId.trim() : '';
	if (!id) throw new ConflictError('A user ID is required', 'userId');
	return id;
}

/**
 * Templates the user is likely to rate well: Σ over their recently rated templates of
 * (rating − 3) × similarity (so disliked templates push their neighbours down), candidates only
 * from well-rated ones, used templates excluded, per-category cap, a reason per result. Too little
 * history (or no neighbours yet) → popular templates, marked strategy 'popular'; a short
 * personalised list is topped up with popular ones.
 */
export async function recommendForUser(pool: Pool, rawUserId: unknown, options: ForUserOptions = {}): Promise<UserRecommendations> {
	const userId = normaliseUserId(rawUserId);
	const limit = checkLimit(options.limit);
	const cap = checkCap(options.maxPerCategory, limit, options.category);
	checkPopularity(options.popularity);
	const historySize = options.historySize ?? 50;
	const minLiked = options.minLikedTemplates ?? 1;
	const state = await ensureFreshSimilarities(pool, options.refreshIfOlderThanHours ?? 24, options.refresh);

	const history = await pool.query<HistoryRow>(
		`SELECT template_id, avg(rating)::float8 AS rating FROM feedback
		 WHERE user_id = $1 AND template_id IS NOT NULL
		 GROUP BY template_id ORDER BY max(created_at) DESC, template_id LIMIT $2`,
		[userId, historySize],
	);
	const rated = history.rows.map((r) => ({ id: r.template_id, rating: Number(r.rating) }));
	const liked = rated.filter((r) => r.rating >= 4);
	let personalised: Recommendation[] = [];
	if (liked.length >= minLiked && liked.length > 0) {
		const values: unknown[] = [];
		const param = (value: unknown) => {
			values.push(value);
			return `$${values.length}`;
		};
		const ids = param(rated.map((r) => r.id));
		const ratings = param(rated.map((r) => r.rating));
		const user = param(userId);
		const where = filterSql(options, param);
		const { rows } = await pool.query<CandidateRow>(
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
			LIMIT ${param(Math.max(limit * 10, 100))}`,
			values,
		);
		personalised = rows.map((r) => ({
			...base(r),
			score: Number(r.score),
			strategy: 'personalised' as const,
			reason: `similar to "${r.because_name}" you rated ${formatRating(Number(r.because_rating))}`,
			because: { templateId: r.because_id, name: r.because_name, rating: Number(r.because_rating) },
		}));
	}
	const counts = new Map<string, number>();
	const seen = new Set<string>();
	const items = capByCategory(personalised, cap, limit, counts, seen);
	if (items.length < limit) {
		await fillWithPopular(pool, { ...options, excludeUsedBy: userId, excludeTemplateIds: items.map((i) => i.templateId) }, items, limit, cap, counts, seen);
	}
	return {
		userId,
		strategy: items.some((i) => i.strategy === 'personalised') ? 'personalised' : 'popular',
		items,
		history: { ratedTemplates: rated.length, likedTemplates: liked.length },
		neighborsRefreshedAt: state?.refreshedAt ?? null,
	};
}

// ───────────────────────────── similar templates ─────────────────────────────

interface NeighborRow extends TemplateRow {
	score: number;
	cf_score: number;
	content_score: number;
	co_raters: number;
}

export interface SimilarTemplates {
	template: { id: string; name: string };
	items: Recommendation[];
}

function similarityReason(sourceTags: string[], sourceCategory: string | null, row: NeighborRow): string {
	const parts: string[] = [];
	if (Number(row.co_raters) > 0 && Number(row.cf_score) > 0) parts.push(`rated alike by ${row.co_raters} user${Number(row.co_raters) === 1 ? '' : 's'}`);
	const shared = row.tags.filter((t) => sourceTags.includes(t));
	if (shared.length) parts.push(`shares tag${shared.length === 1 ? '' : 's'} ${shared.join(', ')}`);
	if (sourceCategory && row.category && sourceCategory.toLowerCase() === row.category.toLowerCase()) parts.push(`same category ${row.category}`);
	return parts.join('; ') || 'similar';
}

/**
 * Templates most similar to one template: its precomputed neighbours, topped up with tag/category
 * matches computed on the fly (templates created since the last refresh have no neighbours yet).
 */
export async function similarTemplates(db: Queryable, ref: TemplateRef, options: ListOptions = {}): Promise<SimilarTemplates> {
	const limit = checkLimit(options.limit);
	const cap = checkCap(options.maxPerCategory ?? 0, limit, options.category);
	const template = await getTemplate(db, ref);
	const values: unknown[] = [template.id];
	const param = (value: unknown) => {
		values.push(value);
		return `$${values.length}`;
	};
	const where = filterSql(options, param);
	const fetch = param(Math.max(limit * 5, 50));
	const { rows } = await db.query<NeighborRow>(
		`SELECT t.id, t.name, t.kind, t.category, t.tags, t.description, n.score, n.cf_score, n.content_score, n.co_raters
		 FROM template_neighbors n JOIN templates t ON t.id = n.neighbor_id
		 WHERE n.template_id = $1 AND ${where.join(' AND ')}
		 ORDER BY n.score DESC, t.id LIMIT ${fetch}`,
		values,
	);
	const toItem = (r: NeighborRow): Recommendation => ({
		...base(r),
		score: Number(r.score),
		strategy: 'similar',
		reason: similarityReason(template.tags, template.category, r),
		similarity: { cfScore: Number(r.cf_score), contentScore: Number(r.content_score), coRaters: Number(r.co_raters) },
	});
	const counts = new Map<string, number>();
	const seen = new Set<string>();
	const items = capByCategory(rows.map(toItem), cap, limit, counts, seen);
	if (items.length < limit) {
		const contentValues: unknown[] = [template.id];
		const p = (value: unknown) => {
			contentValues.push(value);
			return `$${contentValues.length}`;
		};
		const features = [...template.tags, ...(template.category ? [`category:${template.category.toLowerCase()}`] : [])];
		const contentWhere = filterSql(options, p);
		const feat = p(features);
		const { rows: extra } = await db.query<NeighborRow>(
			`SELECT id, name, kind, category, tags, description, score, 0::float8 AS cf_score, score AS content_score, 0 AS co_raters
			 FROM (SELECT t.*, (SELECT count(*) FROM unnest(f.features) x WHERE x = ANY(${feat}::text[]))::float8
			              / nullif(cardinality(ARRAY(SELECT DISTINCT y FROM unnest(f.features || ${feat}::text[]) y)), 0) AS score
			       FROM templates t
			       CROSS JOIN LATERAL (SELECT t.tags || CASE WHEN t.category IS NULL THEN '{}'::text[]
			                                              ELSE ARRAY['category:' || lower(t.category)] END AS features) f
			       WHERE t.id <> $1 AND ${contentWhere.join(' AND ')} AND NOT (t.id = ANY(${p([...seen])}::uuid[]))
			         AND (t.tags && ${p(template.tags)}::text[] OR lower(t.category) = lower(${p(template.category ?? '')}))) c
			 WHERE score > 0 ORDER BY score DESC, id LIMIT ${p(limit * 5)}`,
			contentValues,
		);
		items.push(...capByCategory(extra.map(toItem), cap, limit - items.length, counts, seen));
	}
	return { template: { id: template.id, name: template.name }, items };
}

// ───────────────────────────── refresh ─────────────────────────────

export interface RefreshOptions {
	/**
	 * Rating similarity. 'cooccurrence' (default): cosine of the sets of users who rated each
	 * template ≥ 4, |L(i) ∩ L(j)| / √(|L(i)|·|L(j)|). 'adjusted_cosine': cosine of user-mean-centred
	 * ratings. On the synthetic evaluation co-liking ranks better (bench/results/recommend-eval.json).
	 */
	similarity?: SimilarityMethod;
	/** Rating neighbours kept per template (default 50). */
	neighborsPerTemplate?: number;
	/**
	 * Tag/category neighbours kept per template whose rating list is not full (new or rarely rated
	 * templates), linked both ways (default 20).
	 */
	contentNeighborsPerTemplate?: number;
	/** Pairs rated by fewer users are ignored (default 2). */
	minCoRaters?: number;
	/** Shrinkage λ: similarity × n/(n + λ) for n co-raters (default 10). */
	shrinkage?: number;
	/** Weight of the tag/category Jaccard in the blended score (default 0.1). */
	contentWeight?: number;
	/** Only each user's most recently rated templates count (default 50): bounds the pair count. */
	maxRatingsPerUser?: number;
	/** Tags (or a category) on more than this share of templates, and on more than 50, carry no information (default 0.2). */
	maxFeatureShare?: number;
}

export interface RefreshResult {
	refreshedAt: string;
	durationMs: number;
	templates: number;
	pairs: number;
	ratings: number;
	parameters: Required<RefreshOptions>;
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
	parameters: Partial<RefreshOptions>;
}

function refreshParameters(options: RefreshOptions = {}): Required<RefreshOptions> {
	const p: Required<RefreshOptions> = {
		similarity: options.similarity ?? 'cooccurrence',
		neighborsPerTemplate: options.neighborsPerTemplate ?? 50,
		contentNeighborsPerTemplate: options.contentNeighborsPerTemplate ?? 20,
		minCoRaters: options.minCoRaters ?? 2,
		shrinkage: options.shrinkage ?? 10,
		contentWeight: options.contentWeight ?? 0.1,
		maxRatingsPerUser: options.maxRatingsPerUser ?? 50,
		maxFeatureShare: options.maxFeatureShare ?? 0.2,
	};
	if (!SIMILARITY_METHODS.includes(p.similarity)) throw new ConflictError(`Unknown similarity "${String(p.similarity)}" (use ${SIMILARITY_METHODS.join(' or ')})`, 'similarity');
	const positiveInts: (keyof RefreshOptions)[] = ['neighborsPerTemplate', 'minCoRaters', 'maxRatingsPerUser'];
	for (const key of positiveInts) {
		if (!Number.isInteger(p[key]) || (p[key] as number) < 1) throw new ConflictError(`${key} must be a whole number of 1 or more, got ${String(p[key])}`, key);
	}
	if (!Number.isInteger(p.contentNeighborsPerTemplate) || p.contentNeighborsPerTemplate < 0) {
		throw new ConflictError(`contentNeighborsPerTemplate must be a whole number of 0 or more`, 'contentNeighborsPerTemplate');
	}
	for (const key of ['shrinkage', 'contentWeight', 'maxFeatureShare'] as const) {
		if (!(p[key] >= 0) || !Number.isFinite(p[key])) throw new ConflictError(`${key} must be a number of 0 or more, got ${String(p[key])}`, key);
	}
	return p;
}

export async function getSimilarityState(db: Queryable): Promise<SimilarityState | null> {
	const { rows } = await db.query<{ refreshed_at: Date; duration_ms: number; templates: number; pairs: string; ratings: string; parameters: Partial<RefreshOptions> }>(
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
 * an advisory lock, so concurrent refreshes run one after the other; with `skipIfBusy` a refresh
 * that finds another one running returns at once. Deterministic: the same data gives the same rows.
 */
export async function refreshSimilarities(pool: Pool, options: RefreshOptions & { skipIfBusy?: boolean } = {}): Promise<RefreshResult> {
	const p = refreshParameters(options);
	const started = Date.now();
	return withTransaction(pool, async (client) => {
		const lockKey = 'n8n-nodes-promptlab:template-neighbors';
		if (options.skipIfBusy) {
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

/** In-flight background refreshes of this process, per pool (a cache: losing it costs nothing). */
const backgroundRefreshes = new WeakMap<Pool, Promise<unknown>>();

/**
 * Makes sure neighbours exist and are not older than `maxAgeHours`: built synchronously the first
 * time (waiting for a worker that is already building them), rebuilt in the background when stale.
 */
export async function ensureFreshSimilarities(pool: Pool, maxAgeHours: number, options?: RefreshOptions): Promise<SimilarityState | null> {
	if (!(maxAgeHours >= 0)) throw new ConflictError(`Refresh age must be 0 or more hours, got ${String(maxAgeHours)}`, 'refreshIfOlderThanHours');
	const state = await getSimilarityState(pool);
	if (maxAgeHours === 0) return state;
	if (!state) {
		await refreshSimilarities(pool, { ...options });
		return getSimilarityState(pool);
	}
	const ageMs = Date.now() - new Date(state.refreshedAt).getTime();
	if (ageMs > maxAgeHours * 3_600_000 && !backgroundRefreshes.has(pool)) {
		const running = refreshSimilarities(pool, { ...options, skipIfBusy: true })
			.catch(() => undefined) // a failed background refresh leaves the current neighbours in place
			.finally(() => backgroundRefreshes.delete(pool));
		backgroundRefreshes.set(pool, running);
	}
	return state;
}

/** Waits for this process's background refresh of `pool`, if any (tests, scripts, shutdown). */
export async function waitForBackgroundRefresh(pool: Pool): Promise<void> {
	await backgroundRefreshes.get(pool);
}

