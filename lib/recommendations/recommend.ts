/**
 * Recommendation use cases (research report §3): personalised "for user" lists from item-item
 * similarity, cold-start popularity, and similar templates. The SQL is in lib/db/recommendations.ts;
 * here: validation (one schema per use case, inputs.ts), ranking rules, the per-category cap,
 * top-ups with popular templates, and the reason a person reads for each result.
 *
 * Popularity ranks by a Bayesian average (or Wilson lower bound) from template_stats, never by a
 * raw mean: one 5-star rating must not top the list. Each returned score is recomputed with
 * lib/stats popularityScore, the formula the SQL ranks by.
 */
import type { Pool } from 'pg';

import {
	contentMatches,
	personalisedCandidates,
	popularPage,
	ratingHistory,
	storedNeighbors,
	type NeighborRow,
	type PopularityParameters,
	type PopularityRanking,
	type RecommendFilters,
	type TemplateRow,
} from '../db/recommendations';
import type { Queryable } from '../db/pool';
import { getTemplate, type TemplateKind } from '../db/templates';
import { popularityScore } from '../stats';
import {
	DEFAULT_LIMIT,
	categoryCap,
	normaliseFilters,
	popularTemplatesInput,
	popularityParameters,
	recommendForUserInput,
	similarTemplatesInput,
	type ForUserOptions,
	type ListOptions,
	type PopularOptions,
} from './inputs';
import { ensureFreshSimilarities } from './refresh';

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

export interface SimilarTemplates {
	template: { id: string; name: string };
	items: Recommendation[];
}

function base(row: TemplateRow): Pick<Recommendation, 'templateId' | 'name' | 'kind' | 'category' | 'tags' | 'description'> {
	return { templateId: row.id, name: row.name, kind: row.kind, category: row.category, tags: row.tags, description: row.description };
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

interface PopularQuery {
	filters: RecommendFilters;
	popularity: PopularityParameters;
	excludeUsedBy?: string;
	excludeTemplateIds?: string[];
}

async function popularItems(db: Queryable, query: PopularQuery, fetch: number, offset: number): Promise<Recommendation[]> {
	const popularity = query.popularity;
	const rows = await popularPage(db, { ...query, fetch, offset });
	return rows.map((r) => {
		const ratingCount = Number(r.rating_count);
		const ratingSum = Number(r.rating_sum);
		const goodCount = Number(r.good_count);
		const score = popularityScore(
			{ ratingCount, ratingSum, goodCount },
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
					: popularity.method === 'wilson'
						? `popular: ${Math.round((goodCount / ratingCount) * 100)}% of ${ratingCount} ratings are 4★ or 5★`
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
	query: PopularQuery,
	into: Recommendation[],
	limit: number,
	cap: number,
	counts: Map<string, number>,
	seen: Set<string>,
): Promise<void> {
	let offset = 0;
	let fetch = cap > 0 ? (limit - into.length) * 4 + 20 : limit - into.length + seen.size;
	while (into.length < limit) {
		const page = await popularItems(db, query, fetch, offset);
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
export async function popularTemplates(db: Queryable, input: PopularOptions = {}): Promise<Recommendation[]> {
	const options = popularTemplatesInput.parse(input);
	const limit = options.limit ?? DEFAULT_LIMIT;
	const filters = normaliseFilters(options);
	const cap = categoryCap(options.maxPerCategory, limit, filters.category);
	const items: Recommendation[] = [];
	const query = {
		filters,
		popularity: popularityParameters(options.popularity),
		excludeUsedBy: options.excludeUsedBy,
		excludeTemplateIds: options.excludeTemplateIds,
	};
	await fillWithPopular(db, query, items, limit, cap, new Map(), new Set());
	return items;
}

// ───────────────────────────── for user ─────────────────────────────

/**
 * Templates the user is likely to rate well: Σ over their recently rated templates of
 * (rating − 3) × similarity (so disliked templates push their neighbours down), candidates only
 * from well-rated ones, used templates excluded, per-category cap, a reason per result. Too little
 * history (or no neighbours yet) → popular templates, marked strategy 'popular'; a short
 * personalised list is topped up with popular ones.
 */
export async function recommendForUser(pool: Pool, userId: unknown, input: ForUserOptions = {}): Promise<UserRecommendations> {
	const options = recommendForUserInput.parse({ ...input, userId });
	const user = options.userId;
	const limit = options.limit ?? DEFAULT_LIMIT;
	const filters = normaliseFilters(options);
	const cap = categoryCap(options.maxPerCategory, limit, filters.category);
	const minLiked = options.minLikedTemplates ?? 1;
	const state = await ensureFreshSimilarities(pool, options.refreshIfOlderThanHours ?? 24, options.refresh);

	const rated = await ratingHistory(pool, user, options.historySize ?? 50);
	const liked = rated.filter((r) => r.rating >= 4);
	let personalised: Recommendation[] = [];
	if (liked.length >= minLiked && liked.length > 0) {
		const rows = await personalisedCandidates(pool, { userId: user, history: rated, filters, fetch: Math.max(limit * 10, 100) });
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
		const query = {
			filters,
			popularity: popularityParameters(options.popularity),
			excludeUsedBy: user,
			excludeTemplateIds: items.map((i) => i.templateId),
		};
		await fillWithPopular(pool, query, items, limit, cap, counts, seen);
	}
	return {
		userId: user,
		strategy: items.some((i) => i.strategy === 'personalised') ? 'personalised' : 'popular',
		items,
		history: { ratedTemplates: rated.length, likedTemplates: liked.length },
		neighborsRefreshedAt: state?.refreshedAt ?? null,
	};
}

// ───────────────────────────── similar templates ─────────────────────────────

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
export async function similarTemplates(db: Queryable, template: unknown, input: ListOptions = {}): Promise<SimilarTemplates> {
	const options = similarTemplatesInput.parse({ ...input, template });
	const limit = options.limit ?? DEFAULT_LIMIT;
	const filters = normaliseFilters(options);
	const cap = categoryCap(options.maxPerCategory ?? 0, limit, filters.category);
	const source = await getTemplate(db, options.template);
	const toItem = (r: NeighborRow): Recommendation => ({
		...base(r),
		score: Number(r.score),
		strategy: 'similar',
		reason: similarityReason(source.tags, source.category, r),
		similarity: { cfScore: Number(r.cf_score), contentScore: Number(r.content_score), coRaters: Number(r.co_raters) },
	});
	const counts = new Map<string, number>();
	const seen = new Set<string>();
	const rows = await storedNeighbors(db, source.id, filters, Math.max(limit * 5, 50));
	const items = capByCategory(rows.map(toItem), cap, limit, counts, seen);
	if (items.length < limit) {
		const extra = await contentMatches(db, source, filters, [...seen], limit * 5);
		items.push(...capByCategory(extra.map(toItem), cap, limit - items.length, counts, seen));
	}
	return { template: { id: source.id, name: source.name }, items };
}
