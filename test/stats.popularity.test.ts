import { bayesianAverage, popularityScore, starSortScore, wilsonLowerBound } from '../lib/stats/popularity';

/** Aggregates of template_stats for a template with the given ratings histogram (1..5 stars). */
function template(histogram: number[]): { ratingCount: number; ratingSum: number; goodCount: number; histogram: number[] } {
	return {
		ratingCount: histogram.reduce((a, b) => a + b, 0),
		ratingSum: histogram.reduce((sum, count, i) => sum + count * (i + 1), 0),
		goodCount: histogram[3] + histogram[4],
		histogram,
	};
}

describe('cold-start popularity', () => {
	const oneFiveStar = template([0, 0, 0, 0, 1]);
	// 200 ratings averaging 4.6: 130×5 + 60×4 + 10×3 = 920 = 200 × 4.6
	const established = template([0, 0, 10, 60, 130]);

	test('the fixture averages 4.6 over 200 ratings', () => {
		expect(established.ratingCount).toBe(200);
		expect(established.ratingSum / established.ratingCount).toBeCloseTo(4.6, 12);
	});

	test.each(['bayesian_average', 'wilson', 'star_sort'] as const)('%s: one 5-star rating does not beat 200 ratings averaging 4.6', (method) => {
		const options = { method, priorMean: 3.8, priorWeight: 10 };
		expect(popularityScore(established, options)).toBeGreaterThan(popularityScore(oneFiveStar, options));
	});

	test('the raw average would have got it wrong (which is why none of the scores is one)', () => {
		expect(oneFiveStar.ratingSum / oneFiveStar.ratingCount).toBeGreaterThan(established.ratingSum / established.ratingCount);
	});

	test('Bayesian average shrinks towards the prior and converges to the mean with data', () => {
		expect(bayesianAverage(5, 1, 3.8, 10)).toBeCloseTo((5 + 38) / 11, 14);
		expect(bayesianAverage(0, 0, 3.8, 10)).toBe(3.8);
		expect(bayesianAverage(4.6 * 100_000, 100_000, 3.8, 10)).toBeCloseTo(4.6, 3);
	});

	test('Wilson lower bound: no ratings scores 0, and more evidence at the same share scores higher', () => {
		expect(wilsonLowerBound(0, 0)).toBe(0);
		expect(wilsonLowerBound(90, 100)).toBeGreaterThan(wilsonLowerBound(9, 10));
		expect(wilsonLowerBound(1, 1)).toBeLessThan(0.25);
	});

	test('star sort uses the whole histogram: polarising ratings score below consistent ones of equal mean', () => {
		const consistent = [0, 0, 0, 100, 0]; // all 4 stars
		const polarised = [25, 0, 0, 0, 75]; // mean 4 as well
		expect(starSortScore(consistent)).toBeGreaterThan(starSortScore(polarised));
	});

	test('methods that need more data say so', () => {
		expect(() => popularityScore({ ratingCount: 3, ratingSum: 12 }, { method: 'star_sort' })).toThrow(RangeError);
		expect(() => popularityScore({ ratingCount: 3, ratingSum: 12 }, { method: 'wilson' })).toThrow(RangeError);
		expect(popularityScore({ ratingCount: 3, ratingSum: 12, histogram: [0, 0, 0, 3, 0] }, { method: 'wilson' })).toBeCloseTo(wilsonLowerBound(3, 3), 15);
	});
});
