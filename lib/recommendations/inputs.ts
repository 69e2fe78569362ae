/**
 * The input schemas of the recommendation use cases (one per use case, via defineInput), shared
 * by the Recommend node, scripts and benchmarks. Defaults are applied by the use cases.
 */
import { z } from 'zod';

import { UUID_PATTERN } from '../db/executions';
import { POPULARITY_RANKINGS, SIMILARITY_METHODS, type PopularityRanking, type SimilarityMethod } from '../db/recommendations';
import { templateRefSchema } from '../templates/inputs';
import { defineInput, issueCode, text } from '../validation';

export const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;

function wholeNumber(label: string, min: number, max?: number) {
	const base = z
		.number({ invalid_type_error: `${label} must be a number` })
		.int(`${label} must be a whole number`)
		.min(min, `${label} must be ${min} or more`);
	return max === undefined ? base : base.max(max, `${label} must be at most ${max}`);
}

function nonNegative(label: string) {
	return z.number({ invalid_type_error: `${label} must be a number` }).finite(`${label} must be a finite number`).min(0, `${label} must be 0 or more`);
}

function positive(label: string) {
	return z.number({ invalid_type_error: `${label} must be a number` }).finite(`${label} must be a finite number`).positive(`${label} must be above 0`);
}

/** A user id as Record Feedback stores it: trimmed text (a number is taken as its decimal text). */
const userIdSchema = z.preprocess(
	(v) => (typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : v),
	text({ label: 'User ID', max: 256 }).refine((v) => v.length > 0, { message: 'A user ID is required', ...issueCode('field_required') }),
);

const filtersShape = {
	kind: z.enum(['image', 'text'], { errorMap: () => ({ message: 'Kind must be image or text' }) }).optional(),
	category: text({ label: 'Category', max: 100 }).optional(),
	/** A template must have at least one of these tags (compared in lower case). */
	tags: z.array(text({ label: 'A tag', max: 50 })).max(50, 'At most 50 tags').optional(),
};

const popularitySchema = z
	.object({
		method: z
			.enum(POPULARITY_RANKINGS as [PopularityRanking, ...PopularityRanking[]], {
				errorMap: () => ({ message: `Popularity ranking must be ${POPULARITY_RANKINGS.join(' or ')}` }),
			})
			.optional(),
		/** m of the Bayesian average: pseudo-ratings at the catalog mean (default 10). */
		priorWeight: positive('Prior weight').optional(),
		/** z of the Wilson bound (default 1.96). */
		z: positive('z').optional(),
	})
	.optional();

const listShape = {
	...filtersShape,
	/** Default 10, at most 100. */
	limit: wholeNumber('List length', 1, MAX_LIMIT).optional(),
	/**
	 * At most this many results per category (diversity); 0 = no cap. Default: half the limit,
	 * rounded up; no cap when filtering by category.
	 */
	maxPerCategory: wholeNumber('Max per category', 0).optional(),
	popularity: popularitySchema,
};

const refreshShape = {
	/**
	 * Rating similarity. 'cooccurrence' (default): cosine of the sets of users who rated each
	 * template ≥ 4, |L(i) ∩ L(j)| / √(|L(i)|·|L(j)|). 'adjusted_cosine': cosine of user-mean-centred
	 * ratings. On the synthetic evaluation co-liking ranks better (bench/results/recommend-eval.json).
	 */
	similarity: z
		.enum(SIMILARITY_METHODS as [SimilarityMethod, ...SimilarityMethod[]], {
			errorMap: () => ({ message: `Similarity must be ${SIMILARITY_METHODS.join(' or ')}` }),
		})
		.optional(),
	/** Rating neighbours kept per template (default 50). */
	neighborsPerTemplate: wholeNumber('Neighbours per template', 1, 200).optional(),
	/** Tag/category neighbours kept per template whose rating list is not full (new or rarely rated templates), linked both ways (default 20). */
	contentNeighborsPerTemplate: wholeNumber('Tag neighbours per template', 0, 200).optional(),
	/** Pairs rated by fewer users are ignored (default 2). */
	minCoRaters: wholeNumber('Minimum co-raters', 1).optional(),
	/** Shrinkage λ: similarity × n/(n + λ) for n co-raters (default 10). */
	shrinkage: nonNegative('Shrinkage').optional(),
	/** Weight of the tag/category Jaccard in the blended score (default 0.1). */
	contentWeight: nonNegative('Tag/category weight').optional(),
	/** Only each user's most recently rated templates count (default 50): bounds the pair count. A lone rating co-occurs with nothing. */
	maxRatingsPerUser: wholeNumber('Ratings per user', 2).optional(),
	/** Tags (or a category) on more than this share of templates, and on more than 50, carry no information (default 0.2). */
	maxFeatureShare: nonNegative('Max tag share').optional(),
};

/** Rebuild the neighbour table. */
export const refreshSimilaritiesInput = defineInput(
	z.object({
		...refreshShape,
		/** Return at once (refreshed: false) when another worker is rebuilding. */
		skipIfBusy: z.boolean().optional(),
	}),
);
export type RefreshOptions = z.input<typeof refreshSimilaritiesInput.schema>;

/** Templates ranked by popularity. */
export const popularTemplatesInput = defineInput(
	z.object({
		...listShape,
		/** Leave out templates this user already used (executions or feedback). */
		excludeUsedBy: text({ label: 'Exclude templates used by', max: 500 }).optional(),
		/** Leave out these template IDs. */
		excludeTemplateIds: z
			.array(z.string().regex(UUID_PATTERN, 'Template IDs to exclude must be UUIDs'))
			.max(1000, 'At most 1000 template IDs to exclude')
			.optional(),
	}),
);
export type PopularOptions = z.input<typeof popularTemplatesInput.schema>;

/** Personalised templates for a user. */
export const recommendForUserInput = defineInput(
	z.object({
		userId: userIdSchema,
		...listShape,
		/** How many of the user's most recently rated templates drive the list (default 50). */
		historySize: wholeNumber('History size', 1, 500).optional(),
		/** Below this many well-rated (≥ 4) templates the user gets the popular list (default 1). */
		minLikedTemplates: wholeNumber('Minimum liked templates', 1).optional(),
		/**
		 * Rebuild the neighbours when older than this many hours: in the background (one worker,
		 * advisory lock) while this call answers from the current table; synchronously when they
		 * were never built. 0 disables automatic refreshes. Default 24.
		 */
		refreshIfOlderThanHours: nonNegative('Refresh age in hours').optional(),
		/** Parameters of an automatic refresh. */
		refresh: z.object(refreshShape).optional(),
	}),
);
export type ForUserOptions = Omit<z.input<typeof recommendForUserInput.schema>, 'userId'>;

/** Templates similar to a template. */
export const similarTemplatesInput = defineInput(z.object({ template: templateRefSchema, ...listShape }));
export type ListOptions = Omit<z.input<typeof similarTemplatesInput.schema>, 'template'>;

/** Filters as the repository takes them: category trimmed, tags trimmed, lower-cased and unique. */
export function normaliseFilters(input: { kind?: 'image' | 'text'; category?: string; tags?: string[] }) {
	const tags = [...new Set((input.tags ?? []).map((t) => t.trim().toLowerCase()).filter((t) => t.length > 0))];
	const category = input.category?.trim();
	return { kind: input.kind, category: category || undefined, tags: tags.length ? tags : undefined };
}

/** Default cap: at most half of the list from one category; none when the list is filtered to one category (a cap would only shorten it). */
export function categoryCap(cap: number | undefined, limit: number, category: string | undefined): number {
	return cap ?? (category?.trim() ? 0 : Math.ceil(limit / 2));
}

export function popularityParameters(options: z.output<typeof popularitySchema>) {
	return { method: options?.method ?? ('bayesian_average' as const), priorWeight: options?.priorWeight ?? 10, z: options?.z ?? 1.96 };
}
