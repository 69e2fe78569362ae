/**
 * Every worked example of the research report, against the values printed by the independent
 * script research/check-stats.mjs (`node check-stats.mjs`, output copied in the report's
 * Appendix A) or stated in the report's text (§2.1, §2.3, §3.1). The reference numbers are
 * hard-coded here on purpose: they come from a separate implementation.
 */
import {
	chanceToBeatControl,
	chanceToBeatControlMonteCarlo,
	chanceToBeatControlNormalApprox,
	expectedLoss,
	probBetaGreaterClosedForm,
	probBetaGreaterNumeric,
} from '../lib/stats/beta';
import { sequentialMultiplier } from '../lib/stats/effect';
import { bayesianAverage, starSortScore, wilsonLowerBound } from '../lib/stats/popularity';
import { sampleSizeMeans, sampleSizeTwoProportions, srmTest, twoProportionZTest, welchTTest } from '../lib/stats/tests';

// Example of report §2.3 (a)/(b): A (control) 40/200, B 55/200, uniform Beta(1, 1) prior.
const control = { successes: 40, trials: 200 };
const variant = { successes: 55, trials: 200 };

describe('check-stats.mjs: "P(B>A) closed 0.96051 MC 0.96057 normal 0.96064"', () => {
	test('closed form (Evan Miller) 0.96051', () => {
		expect(chanceToBeatControl(control, variant).toFixed(5)).toBe('0.96051');
		expect(probBetaGreaterClosedForm({ alpha: 56, beta: 146 }, { alpha: 41, beta: 161 }).toFixed(5)).toBe('0.96051');
	});

	test('numerical integration agrees with the closed form to 1e-12', () => {
		const closed = probBetaGreaterClosedForm({ alpha: 56, beta: 146 }, { alpha: 41, beta: 161 });
		const numeric = probBetaGreaterNumeric({ alpha: 56, beta: 146 }, { alpha: 41, beta: 161 });
		expect(Math.abs(closed - numeric)).toBeLessThan(1e-12);
		// mpmath (30 digits) quadrature of f_B·F_A gives 0.960507890736549312…
		expect(Math.abs(closed - 0.9605078907365493)).toBeLessThan(1e-13);
	});

	test('normal approximation 0.96064', () => {
		expect(chanceToBeatControlNormalApprox(control, variant).toFixed(5)).toBe('0.96064');
	});

	test('Monte Carlo 0.96057, replayed with check-stats.mjs\' own generator (192,115 wins of 200,000)', () => {
		// check-stats.mjs: LCG s = s·1664525 + 1013904223 mod 2³², seed 12345, u = (s + 0.5)/2³²;
		// our samplers draw in the same order, so the count is identical, not just close.
		let state = 12345;
		const lcg = (): number => {
			state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
			return (state + 0.5) / 4294967296;
		};
		const mc = chanceToBeatControlMonteCarlo(control, variant, { draws: 200_000, random: lcg });
		expect(mc.chanceToBeatControl.toFixed(5)).toBe('0.96057');
		expect(Math.round(mc.chanceToBeatControl * 200_000)).toBe(192_115);
	});

	test('expected loss: exact value against 30-digit quadrature and Monte Carlo', () => {
		// mpmath: E[max(pA − pB, 0)] = 0.000676335380868181923…, E[max(pB − pA, 0)] = 0.0749337611234424393…
		expect(Math.abs(expectedLoss(control, variant) - 0.000676335380868182)).toBeLessThan(1e-14);
		expect(Math.abs(expectedLoss(variant, control) - 0.07493376112344244)).toBeLessThan(1e-14);
		// Identity: E[B − A] = loss(keep A) − loss(ship B).
		const meanDifference = 56 / 202 - 41 / 202;
		expect(expectedLoss(variant, control) - expectedLoss(control, variant)).toBeCloseTo(meanDifference, 14);
	});
});

test('check-stats.mjs: "z 1.7624 p two-sided 0.07800"', () => {
	const z = twoProportionZTest(control, variant);
	expect(z.z.toFixed(4)).toBe('1.7624');
	expect(z.pValue.toFixed(5)).toBe('0.07800');
	expect(z.difference).toBeCloseTo(0.075, 15);
});

test('check-stats.mjs: "wilson 209/259 0.7545 118/143 0.7546"', () => {
	expect(wilsonLowerBound(209, 259).toFixed(4)).toBe('0.7545');
	expect(wilsonLowerBound(118, 143).toFixed(4)).toBe('0.7546');
	// The point of the example: 118/143 ranks (barely) above 209/259.
	expect(wilsonLowerBound(118, 143)).toBeGreaterThan(wilsonLowerBound(209, 259));
});

test('check-stats.mjs: "starsort (60,80,75,20,25) 3.3684"', () => {
	// The report lists counts from 5 stars down; our histogram is indexed from 1 star up.
	expect(starSortScore([25, 20, 75, 80, 60]).toFixed(4)).toBe('3.3684');
});

test('check-stats.mjs: "SRM 5000 vs 5200 @50/50 p= 4.767e-2  1000 vs 1040 p= 0.3758"', () => {
	const first = srmTest([5000, 5200], [0.5, 0.5]);
	expect(first.pValue.toExponential(3)).toBe('4.767e-2');
	expect(first.alert).toBe(false);
	expect(srmTest([1000, 1040], [0.5, 0.5]).pValue.toFixed(4)).toBe('0.3758');
});

test('check-stats.mjs: welch {"t":2.1737453291558793,"df":150.29250594788618,"p":0.03128968145566632}', () => {
	// A mean 3.60 (sd 1.1, n 80), B 3.95 (sd 0.9, n 75)
	const welch = welchTTest(3.6, 1.1 * 1.1, 80, 3.95, 0.9 * 0.9, 75);
	expect(welch.t).toBeCloseTo(2.1737453291558793, 14);
	expect(welch.df).toBeCloseTo(150.29250594788618, 11);
	expect(welch.pValue).toBeCloseTo(0.03128968145566632, 14);
});

test('check-stats.mjs: "bayes avg 5.0 x2 votes m=10 C=3.8 -> 4.000"', () => {
	expect(bayesianAverage(2 * 5, 2, 3.8, 10).toFixed(3)).toBe('4.000');
});

describe('worked examples stated in the report text', () => {
	test('§2.3 (b) sample size: 60% → 65%, α = .05, power .8 → ≈1,468 per arm', () => {
		expect(sampleSizeTwoProportions(0.6, 0.65, 0.05, 0.8)).toBe(1468);
	});

	test('§2.3 (c) sample size: σ = 1.1, δ = 0.2 stars → ≈475 per arm', () => {
		expect(sampleSizeMeans(1.1, 0.2, 0.05, 0.8)).toBe(475);
	});

	test('§2.3 (c) Welch example rounded: t = 2.17, ν ≈ 150, p ≈ 0.031', () => {
		const welch = welchTTest(3.6, 1.21, 80, 3.95, 0.81, 75);
		expect(welch.t.toFixed(2)).toBe('2.17');
		expect(Math.round(welch.df)).toBe(150);
		expect(welch.pValue.toFixed(3)).toBe('0.031');
	});

	test('§2.1 sequential testing: multiplier ≈3.04 at N = N* = 5000, ≈3.86 at N = 500 (α = 0.05)', () => {
		expect(sequentialMultiplier(5000, 5000, 0.05).toFixed(2)).toBe('3.04');
		expect(sequentialMultiplier(500, 5000, 0.05).toFixed(2)).toBe('3.86');
	});
});
