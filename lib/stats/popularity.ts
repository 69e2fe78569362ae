/**
 * Popularity / quality scores for cold-start recommendations (research report §3.1). None of
 * them is a raw average: a template with one 5-star rating must not outrank one with 200 ratings
 * averaging 4.6. All work from the aggregates kept in template_stats (rating_count, rating_sum,
 * rating_hist) plus a count of good (≥ 4) ratings, which is rating_hist[3] + rating_hist[4].
 */
import { wilsonBounds } from './tests';

/**
 * Wilson score lower bound for the share of positive ("good", rating ≥ 4) ratings
 * (Evan Miller, "How Not To Sort By Average Rating"). 0 when there are no ratings.
 */
export function wilsonLowerBound(positives: number, n: number, z = 1.96): number {
	if (n === 0) return 0;
	return wilsonBounds(positives, n, z)[0];
}

/**
 * Bayesian average (IMDb's "true Bayesian estimate"): (sum + m·C)/(count + m), i.e.
 * v/(v+m)·R + m/(v+m)·C with R = sum/count. `priorMean` C is the catalog-wide mean rating,
 * `priorWeight` m the number of pseudo-ratings at C (the report suggests 5–20 or the median
 * number of ratings per template).
 */
export function bayesianAverage(sum: number, count: number, priorMean: number, priorWeight: number): number {
	if (!(count >= 0)) throw new RangeError(`count must be >= 0, got ${count}`);
	if (!(priorWeight > 0)) throw new RangeError(`priorWeight must be > 0, got ${priorWeight}`);
	return (sum + priorWeight * priorMean) / (count + priorWeight);
}

/**
 * Dirichlet "star-sort" lower bound (Evan Miller, "Ranking items with star ratings"):
 * S = Σ s_k(n_k+1)/(N+K) − z·√((Σ s_k²(n_k+1)/(N+K) − S₀²)/(N+K+1)).
 * `histogram[k]` is the number of (k+1)-star ratings (index 0 = 1 star, like
 * template_stats.rating_hist); note the report's example lists counts from 5 stars down.
 */
export function starSortScore(histogram: readonly number[], z = 1.65): number {
	const k = histogram.length;
	if (k === 0) throw new RangeError('histogram must not be empty');
	const n = histogram.reduce((a, b) => a + b, 0);
	let first = 0;
	let second = 0;
	for (let i = 0; i < k; i++) {
		const stars = i + 1;
		first += (stars * (histogram[i] + 1)) / (n + k);
		second += (stars * stars * (histogram[i] + 1)) / (n + k);
	}
	return first - z * Math.sqrt((second - first * first) / (n + k + 1));
}

export type PopularityMethod = 'bayesian_average' | 'wilson' | 'star_sort';

export interface RatingAggregates {
	ratingCount: number;
	ratingSum: number;
	/** Ratings ≥ 4; needed by 'wilson' (derived from the histogram when absent). */
	goodCount?: number;
	/** Counts of 1..5 stars; needed by 'star_sort'. */
	histogram?: readonly number[];
}

export interface PopularityOptions {
	/** Default 'bayesian_average' (on the 1–5 scale, the easiest to explain in a report). */
	method?: PopularityMethod;
	/** C of the Bayesian average: the catalog mean rating. Default 3, the midpoint of the scale. */
	priorMean?: number;
	/** m of the Bayesian average. Default 10. */
	priorWeight?: number;
	/** z for 'wilson' (default 1.96) and 'star_sort' (default 1.65). */
	z?: number;
}

/**
 * Cold-start score for ranking templates. 'bayesian_average' is on the 1–5 scale, 'wilson' on
 * [0, 1] (lower bound of the good-rating share), 'star_sort' on the 1–5 scale; compare scores of
 * one method only.
 */
export function popularityScore(stats: RatingAggregates, options: PopularityOptions = {}): number {
	const method = options.method ?? 'bayesian_average';
	switch (method) {
		case 'bayesian_average':
			return bayesianAverage(stats.ratingSum, stats.ratingCount, options.priorMean ?? 3, options.priorWeight ?? 10);
		case 'wilson': {
			const good = stats.goodCount ?? (stats.histogram ? (stats.histogram[3] ?? 0) + (stats.histogram[4] ?? 0) : undefined);
			if (good === undefined) throw new RangeError("the 'wilson' score needs goodCount or histogram");
			return wilsonLowerBound(good, stats.ratingCount, options.z ?? 1.96);
		}
		case 'star_sort':
			if (!stats.histogram) throw new RangeError("the 'star_sort' score needs histogram");
			return starSortScore(stats.histogram, options.z ?? 1.65);
		default:
			throw new RangeError(`unknown popularity method ${String(method)}`);
	}
}
