/**
 * Beta-Bernoulli posteriors for proportion metrics (research report §2.3 (a)): chance to beat
 * control P(p_variant > p_control) and expected loss E[max(p_control − p_variant, 0)].
 *
 * The default computation is exact up to rounding: Evan Miller's closed-form sum whenever one of
 * the four Beta parameters involved is an integer (always the case for plain counts and the
 * uniform prior), otherwise adaptive Gauss–Kronrod integration of f_X(t)·I_t(Y) (fractional
 * successes, e.g. per-unit shares, or non-integer priors). Both agree to ~1e-12 on the report's
 * worked example. The report's normal approximation and a seeded Monte Carlo estimate are also
 * exported, because check-stats.mjs prints all three.
 *
 * `successes` may be fractional: a unit's share of good ratings counts as a fractional success
 * (a "fractional Bernoulli" outcome in [0, 1]). The Beta and binomial variances then bound the
 * true variance from above, so the analysis errs on the conservative side.
 */
import { integrate, logBeta, normalCdf, regularizedBeta, betaPdf } from './special';
import { defaultRandom, sampleBeta, type RandomSource } from './random';

// Math and Number members as module constants: inside jest's vm sandbox every global lookup
// is ~10x slower, which made the numeric tests crawl; in plain Node it changes nothing.
const { exp, log, max, min, sqrt } = Math;
const { isFinite: isFiniteNumber, isInteger: isIntegerNumber } = Number;

export interface BinomialCounts {
	/** Successes (may be fractional, see the module comment). */
	successes: number;
	trials: number;
}

/** Beta(a, b) prior on a proportion; the default Beta(1, 1) is uniform. */
export interface BetaPrior {
	a: number;
	b: number;
}

export const UNIFORM_PRIOR: BetaPrior = Object.freeze({ a: 1, b: 1 });

export interface BetaDistribution {
	alpha: number;
	beta: number;
}

/**
 * Longest closed-form sum used; beyond it the integral is both faster and more accurate (rounding
 * accumulates over the terms: ~1e-12 at 40,000 terms, against ~1e-14 for the integral).
 */
const MAX_CLOSED_FORM_TERMS = 5_000;

export function betaPosterior(counts: BinomialCounts, prior: BetaPrior = UNIFORM_PRIOR): BetaDistribution {
	const { successes, trials } = counts;
	if (!isFiniteNumber(trials) || trials < 0) throw new RangeError(`trials must be >= 0, got ${trials}`);
	if (!isFiniteNumber(successes) || successes < 0 || successes > trials) {
		throw new RangeError(`successes must be within [0, trials], got ${successes} of ${trials}`);
	}
	if (!(prior.a > 0) || !(prior.b > 0)) throw new RangeError('Beta prior parameters must be > 0');
	return { alpha: prior.a + successes, beta: prior.b + trials - successes };
}

export function betaMean(distribution: BetaDistribution): number {
	return distribution.alpha / (distribution.alpha + distribution.beta);
}

export function betaVariance({ alpha, beta }: BetaDistribution): number {
	const total = alpha + beta;
	return (alpha * beta) / (total * total * (total + 1));
}

/**
 * Evan Miller's closed form for P(X > Y), X ~ Beta(αx, βx), Y ~ Beta(αy, βy), valid for integer αx:
 * Σ_{i=0}^{αx−1} B(αy+i, βy+βx) / ((βx+i)·B(1+i, βx)·B(αy, βy)), each term in log space.
 */
export function probBetaGreaterClosedForm(x: BetaDistribution, y: BetaDistribution): number {
	if (!isIntegerNumber(x.alpha)) throw new RangeError('the closed form needs an integer alpha for X');
	const logNormaliser = logBeta(y.alpha, y.beta);
	let total = 0;
	for (let i = 0; i < x.alpha; i++) {
		total += exp(logBeta(y.alpha + i, y.beta + x.beta) - log(x.beta + i) - logBeta(1 + i, x.beta) - logNormaliser);
	}
	return total;
}

/**
 * P(X > Y) = ∫ f_X(t)·I_t(αy, βy) dt, integrated over the narrower of the two densities
 * (mean ± 40 sd, clipped to [0, 1]) so the peak is always resolved; the wider one enters only
 * through its smooth CDF.
 */
export function probBetaGreaterNumeric(x: BetaDistribution, y: BetaDistribution): number {
	if (betaVariance(x) > betaVariance(y)) return 1 - probBetaGreaterNumeric(y, x);
	const mean = betaMean(x);
	const spread = 40 * sqrt(betaVariance(x));
	const lo = max(0, mean - spread);
	const hi = min(1, mean + spread);
	const value = integrate((t) => betaPdf(t, x.alpha, x.beta) * regularizedBeta(t, y.alpha, y.beta), lo, hi, {
		absoluteTolerance: 1e-13,
		initialPieces: 8,
	});
	return clampProbability(value);
}

/**
 * P(X > Y) for independent Beta variables: the closed form with the fewest terms among the four
 * symmetric variants that have an integer parameter, else numerical integration.
 */
export function probBetaGreater(x: BetaDistribution, y: BetaDistribution): number {
	const flip = (d: BetaDistribution): BetaDistribution => ({ alpha: d.beta, beta: d.alpha });
	const candidates: { terms: number; compute: () => number }[] = [];
	// P(X > Y) directly; = 1 − P(Y > X); = P(1−Y > 1−X); = 1 − P(1−X > 1−Y).
	if (isIntegerNumber(x.alpha)) candidates.push({ terms: x.alpha, compute: () => probBetaGreaterClosedForm(x, y) });
	if (isIntegerNumber(y.alpha)) candidates.push({ terms: y.alpha, compute: () => 1 - probBetaGreaterClosedForm(y, x) });
	if (isIntegerNumber(y.beta)) candidates.push({ terms: y.beta, compute: () => probBetaGreaterClosedForm(flip(y), flip(x)) });
	if (isIntegerNumber(x.beta)) candidates.push({ terms: x.beta, compute: () => 1 - probBetaGreaterClosedForm(flip(x), flip(y)) });
	candidates.sort((p, q) => p.terms - q.terms);
	if (candidates.length > 0 && candidates[0].terms <= MAX_CLOSED_FORM_TERMS) return clampProbability(candidates[0].compute());
	return probBetaGreaterNumeric(x, y);
}

/** P(p_variant > p_control) under independent Beta posteriors. */
export function chanceToBeatControl(control: BinomialCounts, variant: BinomialCounts, prior: BetaPrior = UNIFORM_PRIOR): number {
	return probBetaGreater(betaPosterior(variant, prior), betaPosterior(control, prior));
}

/**
 * Expected loss of choosing the variant: E[max(p_control − p_variant, 0)], in proportion units.
 * Swap the arguments for the loss of keeping the control. Exact, via
 * E[(C − V)⁺] = m_C·P(C⁺ > V) − m_V·P(C > V⁺), where D⁺ is D with alpha + 1
 * (because t·f_Beta(α,β)(t) = m·f_Beta(α+1,β)(t)).
 */
export function expectedLoss(control: BinomialCounts, variant: BinomialCounts, prior: BetaPrior = UNIFORM_PRIOR): number {
	const c = betaPosterior(control, prior);
	const v = betaPosterior(variant, prior);
	const cPlus = { alpha: c.alpha + 1, beta: c.beta };
	const vPlus = { alpha: v.alpha + 1, beta: v.beta };
	const loss = betaMean(c) * probBetaGreater(cPlus, v) - betaMean(v) * probBetaGreater(c, vPlus);
	return max(0, loss);
}

/** The report's normal approximation Φ((m_V − m_C)/√(v_C + v_V)) (check-stats "normal"). */
export function chanceToBeatControlNormalApprox(control: BinomialCounts, variant: BinomialCounts, prior: BetaPrior = UNIFORM_PRIOR): number {
	const c = betaPosterior(control, prior);
	const v = betaPosterior(variant, prior);
	return normalCdf((betaMean(v) - betaMean(c)) / sqrt(betaVariance(c) + betaVariance(v)));
}

export interface MonteCarloOptions {
	draws?: number;
	random?: RandomSource;
	prior?: BetaPrior;
}

/**
 * Monte Carlo estimates (report §2.3 (a)): per draw, the variant's sample is drawn before the
 * control's, as in check-stats.mjs, so the same uniform source replays its figure exactly.
 */
export function chanceToBeatControlMonteCarlo(
	control: BinomialCounts,
	variant: BinomialCounts,
	options: MonteCarloOptions = {},
): { chanceToBeatControl: number; expectedLoss: number } {
	const draws = options.draws ?? 100_000;
	if (!isIntegerNumber(draws) || draws < 1) throw new RangeError(`draws must be a positive integer, got ${draws}`);
	const random = options.random ?? defaultRandom;
	const c = betaPosterior(control, options.prior);
	const v = betaPosterior(variant, options.prior);
	let wins = 0;
	let lossSum = 0;
	for (let i = 0; i < draws; i++) {
		const pv = sampleBeta(v.alpha, v.beta, random);
		const pc = sampleBeta(c.alpha, c.beta, random);
		if (pv > pc) wins++;
		else lossSum += pc - pv;
	}
	return { chanceToBeatControl: wins / draws, expectedLoss: lossSum / draws };
}

function clampProbability(p: number): number {
	return min(1, max(0, p));
}
