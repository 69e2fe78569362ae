/**
 * Thompson-sampling traffic weights for campaigns with many variants (report §2.4): each arm's
 * "good" proportion has a Beta posterior; the allocation is P(arm is best), estimated with
 * Monte Carlo draws, then given a floor *additively* as GrowthBook does
 * (p_i = f + (1 − n·f)·w_i), which keeps the ordering of the posterior allocation instead of
 * clipping and renormalising. The weights feed the ordinary hash bucketing (hash.ts); units
 * already assigned keep their variant (sticky rows in campaign_assignments).
 */
import { betaPosterior, UNIFORM_PRIOR, type BetaPrior, type BinomialCounts } from './beta';
import { defaultRandom, sampleBeta, type RandomSource } from './random';

export { seededRandom, sampleBeta, sampleGamma, type RandomSource } from './random';

export interface ThompsonOptions {
	/** Minimum allocation per arm, 0 ≤ floor ≤ 1/n (GrowthBook's default is 0.01). */
	floor?: number;
	/** Monte Carlo draws (GrowthBook uses 10,000). */
	draws?: number;
	/** Uniform source; pass seededRandom(seed) for a reproducible allocation. */
	random?: RandomSource;
	prior?: BetaPrior;
	/**
	 * Arms need this many trials before the allocation adapts (GrowthBook waits for 100 units per
	 * arm); until then every arm gets 1/n.
	 */
	minTrialsPerArm?: number;
}

/** Share of Monte Carlo draws in which each arm has the highest sampled proportion. */
export function bestArmProbabilities(
	arms: readonly BinomialCounts[],
	options: Pick<ThompsonOptions, 'draws' | 'random' | 'prior'> = {},
): number[] {
	if (arms.length === 0) throw new RangeError('at least one arm is required');
	const draws = options.draws ?? 10_000;
	if (!Number.isInteger(draws) || draws < 1) throw new RangeError(`draws must be a positive integer, got ${draws}`);
	const random = options.random ?? defaultRandom;
	const posteriors = arms.map((arm) => betaPosterior(arm, options.prior ?? UNIFORM_PRIOR));
	const wins = new Array<number>(arms.length).fill(0);
	for (let draw = 0; draw < draws; draw++) {
		let best = 0;
		let bestValue = -1;
		for (let i = 0; i < posteriors.length; i++) {
			const value = sampleBeta(posteriors[i].alpha, posteriors[i].beta, random);
			if (value > bestValue) {
				bestValue = value;
				best = i;
			}
		}
		wins[best]++;
	}
	return wins.map((w) => w / draws);
}

/** Additive floor on the simplex: p_i = floor + (1 − n·floor)·w_i / Σw. */
export function applyFloor(weights: readonly number[], floor: number): number[] {
	const n = weights.length;
	if (!(floor >= 0) || floor * n > 1 + 1e-12) throw new RangeError(`floor must be within [0, 1/${n}], got ${floor}`);
	const total = weights.reduce((a, b) => a + b, 0);
	if (!(total > 0)) throw new RangeError('weights must have a positive sum');
	const free = Math.max(0, 1 - n * floor);
	return weights.map((w) => floor + (free * w) / total);
}

/**
 * Allocation probabilities (sum 1, each ≥ floor) for the next period of a Thompson campaign.
 * Deterministic for a given `random` source.
 */
export function thompsonWeights(arms: readonly BinomialCounts[], options: ThompsonOptions = {}): number[] {
	const floor = options.floor ?? 0.01;
	const minTrials = options.minTrialsPerArm ?? 0;
	if (arms.length === 0) throw new RangeError('at least one arm is required');
	if (!(floor >= 0) || floor * arms.length > 1 + 1e-12) throw new RangeError(`floor must be within [0, 1/${arms.length}], got ${floor}`);
	if (arms.some((arm) => arm.trials < minTrials)) return arms.map(() => 1 / arms.length);
	return applyFloor(bestArmProbabilities(arms, options), floor);
}
