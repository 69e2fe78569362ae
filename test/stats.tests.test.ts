import { chanceToBeatControl, chanceToBeatControlMonteCarlo, expectedLoss, probBetaGreater } from '../lib/stats/beta';
import { gaussianChanceToWin, gaussianExpectedLoss } from '../lib/stats/effect';
import { seededRandom } from '../lib/stats/random';
import { benjaminiHochberg, meanWithCi, srmTest, twoProportionZTest, welchTTest, wilsonInterval } from '../lib/stats/tests';

/** count, sum and sum of squares: what the DB stores. */
function aggregates(values: number[]): [number, number, number] {
	return [values.length, values.reduce((a, b) => a + b, 0), values.reduce((a, b) => a + b * b, 0)];
}

describe('Welch t-test', () => {
	test("R's sleep data, t.test(extra ~ group): t = -1.8608, df = 17.776, p = 0.07939, CI [-3.3654832, 0.2054832]", () => {
		// R documentation example (datasets::sleep); digits confirmed with scipy 1.17.1 ttest_ind(equal_var=False).
		const group1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
		const group2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
		const a = meanWithCi(...aggregates(group2));
		const b = meanWithCi(...aggregates(group1));
		const welch = welchTTest(a.mean, a.variance, a.count, b.mean, b.variance, b.count);
		expect(welch.t).toBeCloseTo(-1.8608134674868526, 12);
		expect(welch.df).toBeCloseTo(17.776473516178488, 10);
		expect(welch.pValue).toBeCloseTo(0.0793941401873583, 12);
		expect(welch.ci[0]).toBeCloseTo(-3.3654832307117104, 10);
		expect(welch.ci[1]).toBeCloseTo(0.20548323071171137, 10);
	});

	test('degenerate and invalid inputs', () => {
		expect(welchTTest(4, 0, 10, 4, 0, 10).pValue).toBe(1);
		expect(welchTTest(4, 0, 10, 5, 0, 10).pValue).toBe(0);
		expect(() => welchTTest(4, 1, 1, 5, 1, 10)).toThrow(RangeError);
	});
});

describe('two-proportion z-test', () => {
	test('z² equals the uncorrected 2×2 χ² (scipy chi2_contingency(correction=False): 3.8535645472061657, p 0.049640386865368834)', () => {
		const z = twoProportionZTest({ successes: 120, trials: 1000 }, { successes: 150, trials: 1000 });
		expect(z.z * z.z).toBeCloseTo(3.8535645472061657, 11);
		expect(z.pValue).toBeCloseTo(0.049640386865368834, 12);
		expect(z.ci[0]).toBeLessThan(0.03);
		expect(z.ci[1]).toBeGreaterThan(0.03);
	});

	test('no variance at all gives p = 1', () => {
		expect(twoProportionZTest({ successes: 0, trials: 50 }, { successes: 0, trials: 60 }).pValue).toBe(1);
	});
});

describe('mean with CI from aggregates', () => {
	test('ratings 5,4,4,3,5,2,4,5,1,4: mean 3.7, 95% t interval [2.74321478103839, 4.656785218961611] (scipy)', () => {
		const summary = meanWithCi(...aggregates([5, 4, 4, 3, 5, 2, 4, 5, 1, 4]));
		expect(summary.mean).toBeCloseTo(3.7, 14);
		expect(summary.ci?.[0]).toBeCloseTo(2.74321478103839, 12);
		expect(summary.ci?.[1]).toBeCloseTo(4.656785218961611, 12);
	});

	test('a single rating has no interval', () => {
		expect(meanWithCi(1, 5, 25).ci).toBeNull();
	});
});

describe('SRM', () => {
	test('a planted 52/48 imbalance on 100,000 units is detected', () => {
		const srm = srmTest([52_000, 48_000], [1, 1]);
		expect(srm.chi2).toBeCloseTo(160, 10);
		expect(srm.pValue).toBeLessThan(1e-30);
		expect(srm.alert).toBe(true);
	});

	test('three arms (scipy chisquare: statistic 0.5, p 0.7788007830714067)', () => {
		const srm = srmTest([3350, 3300, 3350], [1, 1, 1]);
		expect(srm.df).toBe(2);
		expect(srm.pValue).toBeCloseTo(0.7788007830714067, 12);
		expect(srm.alert).toBe(false);
	});

	test('a paused arm with units is a mismatch; without units it is left out', () => {
		expect(srmTest([500, 500, 3], [1, 1, 0]).alert).toBe(true);
		const paused = srmTest([500, 510, 0], [1, 1, 0]);
		expect(paused.df).toBe(1);
		expect(paused.alert).toBe(false);
		expect(srmTest([0, 0], [1, 1]).pValue).toBe(1);
	});
});

test('Benjamini–Hochberg adjusted p-values (R p.adjust(method = "BH"))', () => {
	// p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02
	const adjusted = benjaminiHochberg([0.01, 0.04, 0.03, 0.005]);
	[0.02, 0.04, 0.04, 0.02].forEach((expected, i) => expect(adjusted[i]).toBeCloseTo(expected, 15));
});

test('Wilson interval contains the proportion and narrows with n', () => {
	const small = wilsonInterval(6, 10);
	const large = wilsonInterval(600, 1000);
	expect(small[0]).toBeLessThan(0.6);
	expect(small[1]).toBeGreaterThan(0.6);
	expect(large[1] - large[0]).toBeLessThan(small[1] - small[0]);
	expect(wilsonInterval(0, 0)).toEqual([0, 1]);
});

describe('Beta-Bernoulli beyond the worked example', () => {
	test('fractional successes (per-unit shares) integrate numerically; matches 30-digit mpmath', () => {
		// mpmath: P = 0.957520554421286675…, loss = 0.000737418096973149921…
		const c = { successes: 40.5, trials: 200 };
		const v = { successes: 55.25, trials: 200 };
		expect(Math.abs(chanceToBeatControl(c, v) - 0.9575205544212867)).toBeLessThan(1e-13);
		expect(Math.abs(expectedLoss(c, v) - 0.0007374180969731499)).toBeLessThan(1e-14);
	});

	test('large campaigns keep precision (scipy quad: 0.9426239544017484)', () => {
		const p = chanceToBeatControl({ successes: 40000.5, trials: 200_000 }, { successes: 40400.25, trials: 200_000 });
		expect(Math.abs(p - 0.9426239544017484)).toBeLessThan(1e-11);
	});

	test('symmetric: P(X > Y) + P(Y > X) = 1, identical arms give ½', () => {
		const x = { alpha: 12.5, beta: 30 };
		const y = { alpha: 9, beta: 22.25 };
		expect(probBetaGreater(x, y) + probBetaGreater(y, x)).toBeCloseTo(1, 13);
		expect(chanceToBeatControl({ successes: 30, trials: 100 }, { successes: 30, trials: 100 })).toBeCloseTo(0.5, 13);
	});

	test('exact values agree with a seeded Monte Carlo on another example', () => {
		const c = { successes: 12, trials: 80 };
		const v = { successes: 19, trials: 75 };
		const mc = chanceToBeatControlMonteCarlo(c, v, { draws: 200_000, random: seededRandom(7) });
		// Monte Carlo standard error ≈ √(p(1−p)/200000) < 0.0011
		expect(Math.abs(mc.chanceToBeatControl - chanceToBeatControl(c, v))).toBeLessThan(0.004);
		expect(Math.abs(mc.expectedLoss - expectedLoss(c, v))).toBeLessThan(0.0005);
	});

	test('invalid counts are rejected', () => {
		expect(() => chanceToBeatControl({ successes: 11, trials: 10 }, { successes: 1, trials: 10 })).toThrow(RangeError);
		expect(() => chanceToBeatControl({ successes: -1, trials: 10 }, { successes: 1, trials: 10 })).toThrow(RangeError);
	});
});

test('Gaussian effect posterior: chance to win and expected loss', () => {
	expect(gaussianChanceToWin(0, 1)).toBe(0.5);
	expect(gaussianChanceToWin(1.959963984540054, 1)).toBeCloseTo(0.975, 14);
	// E[max(−Δ, 0)] at Δ ~ N(0, 1) is φ(0) = 1/√(2π)
	expect(gaussianExpectedLoss(0, 1)).toBeCloseTo(1 / Math.sqrt(2 * Math.PI), 15);
	// loss(keep control) − loss(ship) = E[Δ]
	expect(gaussianExpectedLoss(-0.3, 0.2) - gaussianExpectedLoss(0.3, 0.2)).toBeCloseTo(0.3, 14);
	expect(gaussianExpectedLoss(-0.5, 0)).toBe(0.5);
});
