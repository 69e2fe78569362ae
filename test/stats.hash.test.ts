import { assignVariant, bucketRanges, chooseVariantIndex, fnv1a32, growthbookHash, hashToUnit } from '../lib/stats/hash';
import { srmTest } from '../lib/stats/tests';

/**
 * GrowthBook's hash test vectors: growthbook/growthbook packages/sdk-js/test/cases.json ("hash"),
 * copied in research/growthbook-hash-cases.json: [seed, value, version, expected].
 */
const HASH_VECTORS: [string, string, number, number | null][] = [
	['', 'a', 1, 0.22],
	['', 'b', 1, 0.077],
	['b', 'a', 1, 0.946],
	['ef', 'd', 1, 0.652],
	['asdf', '8952klfjas09ujk', 1, 0.549],
	['', '123', 1, 0.011],
	['', '___)((*":&', 1, 0.563],
	['seed', 'a', 2, 0.0505],
	['seed', 'b', 2, 0.2696],
	['foo', 'ab', 2, 0.2575],
	['foo', 'def', 2, 0.2019],
	['89123klj', '8952klfjas09ujkasdf', 2, 0.124],
	['90850943850283058242805', '123', 2, 0.7516],
	['()**(%$##$%#$#', '___)((*":&', 2, 0.0128],
	['abc', 'def', 99, null],
];

describe('GrowthBook FNV-1a hash', () => {
	test.each(HASH_VECTORS)('hash(%j, %j, v%d) = %p', (seed, value, version, expected) => {
		expect(growthbookHash(seed, value, version)).toBe(expected);
	});

	test('hashToUnit is the same hash and rejects unknown versions', () => {
		expect(hashToUnit('seed', 'a')).toBe(0.0505);
		expect(hashToUnit('', 'a', 1)).toBe(0.22);
		expect(() => hashToUnit('abc', 'def', 99 as 2)).toThrow(RangeError);
	});

	test('FNV-1a 32 of known strings (offset basis for the empty string)', () => {
		expect(fnv1a32('')).toBe(0x811c9dc5);
		expect(fnv1a32('a')).toBe(0xe40c292c);
		expect(fnv1a32('foobar')).toBe(0xbf9cf968);
	});
});

describe('bucket ranges', () => {
	// GrowthBook cases.json "getBucketRange" cases with valid weights (we normalise other weights
	// instead of falling back to equal weights, by design: DB weights are on any scale).
	test.each([
		['normal 50/50', [1, 1], 1, [[0, 0.5], [0.5, 1]]],
		['reduced coverage', [1, 1], 0.5, [[0, 0.25], [0.5, 0.75]]],
		['zero coverage', [1, 1], 0, [[0, 0], [0.5, 0.5]]],
		['4 variations', [1, 1, 1, 1], 1, [[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]]],
		['uneven weights', [0.4, 0.6], 1, [[0, 0.4], [0.4, 1]]],
		['uneven weights, 3 variations', [0.2, 0.3, 0.5], 1, [[0, 0.2], [0.2, 0.5], [0.5, 1]]],
		['uneven weights, reduced coverage, 3 variations', [0.2, 0.3, 0.5], 0.2, [[0, 0.04], [0.2, 0.26], [0.5, 0.6]]],
		['negative coverage', [1, 1], -0.2, [[0, 0], [0.5, 0.5]]],
		['coverage above 1', [1, 1], 1.5, [[0, 0.5], [0.5, 1]]],
		['weights on another scale', [40, 60], 1, [[0, 0.4], [0.4, 1]]],
	])('%s', (_name, weights, coverage, expected) => {
		const ranges = bucketRanges(weights as number[], coverage as number);
		expect(ranges).toHaveLength((expected as number[][]).length);
		ranges.forEach(([start, end], i) => {
			expect(start).toBeCloseTo((expected as number[][])[i][0], 12);
			expect(end).toBeCloseTo((expected as number[][])[i][1], 12);
		});
	});

	test('invalid weights are rejected', () => {
		expect(() => bucketRanges([])).toThrow(RangeError);
		expect(() => bucketRanges([0, 0])).toThrow(RangeError);
		expect(() => bucketRanges([1, -1])).toThrow(RangeError);
		expect(() => bucketRanges([1, Number.NaN])).toThrow(RangeError);
	});

	test('range membership is half-open, and outside every range is -1', () => {
		const ranges = bucketRanges([1, 1], 0.5);
		expect(chooseVariantIndex(0, ranges)).toBe(0);
		expect(chooseVariantIndex(0.25, ranges)).toBe(-1);
		expect(chooseVariantIndex(0.5, ranges)).toBe(1);
		expect(chooseVariantIndex(0.9, ranges)).toBe(-1);
	});
});

describe('assignVariant', () => {
	test('matches GrowthBook experiment cases end to end (cases.json "feature")', () => {
		// "empty experiment rule - a/b/c": seed = key "feature", 3 equal variations, hash v1.
		expect(assignVariant('feature', '123', [1, 1, 1], { version: 1 })).toBe(2); // bucket 0.863
		expect(assignVariant('feature', '456', [1, 1, 1], { version: 1 })).toBe(0); // bucket 0.178
		expect(assignVariant('feature', 'fds', [1, 1, 1], { version: 1 })).toBe(1); // bucket 0.514
		// "creates experiments properly": seed "feature", v2, weights 0.1/0.9, coverage 0.99.
		expect(hashToUnit('feature', '123', 2)).toBe(0.5231);
		expect(assignVariant('feature', '123', [0.1, 0.9], { coverage: 0.99 })).toBe(1);
	});

	const weights = [50, 30, 0, 20];
	const seed = 'campaign-7f3a';
	const ids = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);
	const assignments = ids.map((id) => assignVariant(seed, id, weights));

	test('100,000 ids split within tolerance of the weights, never onto a zero weight, and pass SRM', () => {
		const counts = [0, 0, 0, 0];
		for (const index of assignments) counts[index]++;
		expect(counts[2]).toBe(0);
		const total = weights.reduce((a, b) => a + b, 0);
		counts.forEach((count, i) => {
			// ±0.6 points is > 4 standard deviations of a share at n = 100,000.
			expect(Math.abs(count / ids.length - weights[i] / total)).toBeLessThan(0.006);
		});
		const srm = srmTest(counts, weights);
		expect(srm.pValue).toBeGreaterThan(0.001);
		expect(srm.alert).toBe(false);
	});

	test('sticky: the same id gets the same variant on repeated calls, in any call order', () => {
		const order = ids.slice(0, 5000).reverse();
		for (const id of order) {
			const index = Number(id.slice('user-'.length));
			expect(assignVariant(seed, id, weights)).toBe(assignments[index]);
		}
		expect(assignVariant(seed, 'user-42', weights)).toBe(assignVariant(seed, 'user-42', weights));
	});

	test('a different campaign seed reshuffles units independently', () => {
		const other = ids.slice(0, 20_000).map((id) => assignVariant('another-campaign', id, weights));
		const same = other.filter((index, i) => index === assignments[i]).length / other.length;
		// Independent 50/30/20 splits agree with probability 0.25 + 0.09 + 0.04 = 0.38.
		expect(same).toBeGreaterThan(0.36);
		expect(same).toBeLessThan(0.4);
	});

	test('SRM catches a planted 52/48 imbalance: B loses every 12th unit (a logging bug) on 100,000 ids', () => {
		const counts = [0, 0];
		let seenB = 0;
		for (const id of ids) {
			const index = assignVariant(seed, id, [1, 1]);
			if (index === 1 && ++seenB % 12 === 0) continue;
			counts[index]++;
		}
		const shareA = counts[0] / (counts[0] + counts[1]);
		expect(shareA).toBeGreaterThan(0.515);
		expect(shareA).toBeLessThan(0.525);
		const srm = srmTest(counts, [1, 1]);
		expect(srm.alert).toBe(true);
		expect(srm.pValue).toBeLessThan(1e-20);
	});

	test('lowering coverage keeps enrolled units on their variant', () => {
		for (const id of ids.slice(0, 5000)) {
			const partial = assignVariant(seed, id, weights, { coverage: 0.5 });
			if (partial !== -1) expect(partial).toBe(assignVariant(seed, id, weights));
		}
	});
});
