import { sampleBeta, sampleGamma, seededRandom } from '../lib/stats/random';
import { applyFloor, bestArmProbabilities, thompsonWeights } from '../lib/stats/thompson';

describe('seeded random and samplers', () => {
	test('seededRandom is reproducible, in (0, 1), and differs by seed', () => {
		const a = seededRandom(42);
		const b = seededRandom(42);
		const c = seededRandom('42-other');
		const first = Array.from({ length: 1000 }, () => a());
		expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
		expect(first.every((u) => u > 0 && u < 1)).toBe(true);
		expect(c()).not.toBe(first[0]);
		const mean = first.reduce((s, u) => s + u, 0) / first.length;
		expect(mean).toBeGreaterThan(0.45);
		expect(mean).toBeLessThan(0.55);
	});

	test.each([
		[0.5, 2],
		[3, 7],
		[41, 161],
	])('Beta(%p, %p) draws have the right mean and variance', (alpha, beta) => {
		const random = seededRandom(`beta-${alpha}-${beta}`);
		const n = 100_000;
		let sum = 0;
		let sumSq = 0;
		for (let i = 0; i < n; i++) {
			const x = sampleBeta(alpha, beta, random);
			sum += x;
			sumSq += x * x;
		}
		const mean = sum / n;
		const variance = sumSq / n - mean * mean;
		const trueMean = alpha / (alpha + beta);
		const trueVariance = (alpha * beta) / ((alpha + beta) ** 2 * (alpha + beta + 1));
		expect(Math.abs(mean - trueMean)).toBeLessThan(5 * Math.sqrt(trueVariance / n));
		expect(Math.abs(variance / trueVariance - 1)).toBeLessThan(0.03);
	});

	test('Gamma(0.3) (the boost branch) has mean 0.3', () => {
		const random = seededRandom(3);
		let sum = 0;
		for (let i = 0; i < 100_000; i++) sum += sampleGamma(0.3, random);
		expect(sum / 100_000).toBeCloseTo(0.3, 2);
		expect(() => sampleGamma(0, random)).toThrow(RangeError);
	});
});

describe('Thompson sampling weights', () => {
	const arms = [
		{ successes: 60, trials: 200 },
		{ successes: 62, trials: 200 },
		{ successes: 120, trials: 200 },
		{ successes: 10, trials: 200 },
		{ successes: 58, trials: 200 },
	];

	test('allocation shifts toward the clearly better arm, sums to 1 and respects the floor', () => {
		const floor = 0.02;
		const weights = thompsonWeights(arms, { floor, random: seededRandom(1) });
		expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
		for (const w of weights) expect(w).toBeGreaterThanOrEqual(floor - 1e-15);
		expect(weights[2]).toBeGreaterThan(0.9);
		// Arms that never win get exactly the floor.
		expect(weights[3]).toBeCloseTo(floor, 15);
	});

	test('deterministic with a seeded source', () => {
		const first = thompsonWeights(arms, { floor: 0.01, random: seededRandom('campaign-1@2025-01-01') });
		const second = thompsonWeights(arms, { floor: 0.01, random: seededRandom('campaign-1@2025-01-01') });
		expect(second).toEqual(first);
	});

	test('identical arms get about equal allocation', () => {
		const same = Array.from({ length: 4 }, () => ({ successes: 50, trials: 100 }));
		const weights = thompsonWeights(same, { floor: 0.05, draws: 20_000, random: seededRandom(9) });
		for (const w of weights) expect(Math.abs(w - 0.25)).toBeLessThan(0.02);
	});

	test('best-arm probabilities follow the posterior (two arms: P(B > A) of the worked example)', () => {
		// Exact P(B > A) for 40/200 vs 55/200 is 0.96051 (check-stats.mjs).
		const probabilities = bestArmProbabilities([{ successes: 40, trials: 200 }, { successes: 55, trials: 200 }], {
			draws: 50_000,
			random: seededRandom(5),
		});
		expect(Math.abs(probabilities[1] - 0.96051)).toBeLessThan(0.005);
	});

	test('before every arm has minTrialsPerArm, traffic stays equal', () => {
		const young = [{ successes: 9, trials: 10 }, { successes: 1, trials: 10 }, { successes: 50, trials: 150 }];
		expect(thompsonWeights(young, { minTrialsPerArm: 100, random: seededRandom(1) })).toEqual([1 / 3, 1 / 3, 1 / 3]);
	});

	test('additive floor keeps the order of the posterior allocation', () => {
		expect(applyFloor([0.7, 0.3, 0], 0.1)).toEqual([0.1 + 0.7 * 0.7, 0.1 + 0.7 * 0.3, 0.1]);
		expect(() => applyFloor([0.5, 0.5, 0], 0.4)).toThrow(RangeError);
		expect(() => thompsonWeights(arms, { floor: 0.3 })).toThrow(RangeError);
	});
});
