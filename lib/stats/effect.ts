/**
 * Effect-based Gaussian posterior (GrowthBook's Bayesian engine with its default flat prior,
 * report §2.1) used for the mean-rating metric, and GrowthBook's asymptotic confidence sequences
 * (sequential testing, report §2.1) for peeking-safe intervals.
 */
import { normalCdf, normalPdf } from './special';

/**
 * Chance that the true effect is > 0 when it is N(difference, standardError²): Φ(Δ/σ).
 * A zero standard error gives 1, 0 or ½ by the sign of the difference.
 */
export function gaussianChanceToWin(difference: number, standardError: number): number {
	if (standardError === 0) return difference > 0 ? 1 : difference < 0 ? 0 : 0.5;
	return normalCdf(difference / standardError);
}

/**
 * Expected loss of shipping the variant, E[max(−Δ, 0)] for Δ ~ N(difference, standardError²):
 * σ·φ(Δ/σ) − Δ·Φ(−Δ/σ) (a truncated-normal mean times its probability). Swap the sign of the
 * difference for the loss of keeping the control.
 */
export function gaussianExpectedLoss(difference: number, standardError: number): number {
	if (standardError === 0) return Math.max(-difference, 0);
	const z = difference / standardError;
	return Math.max(0, standardError * normalPdf(z) - difference * normalCdf(-z));
}

/**
 * Confidence-sequence multiplier (Waudby-Smith et al. 2023, GrowthBook `sequential_interval_halfwidth`):
 * half-width = SE·√N·√(2(Nρ²+1)/(N²ρ²)·ln(√(Nρ²+1)/α)), ρ = √((−2 ln α + ln(−2 ln α + 1))/N*),
 * returned as a factor on SE (it replaces 1.96). N = units in the two arms compared, N* = the
 * tuning sample size (GrowthBook default 5,000), fixed for the whole campaign.
 */
export function sequentialMultiplier(totalSample: number, tuningSample = 5000, alpha = 0.05): number {
	if (!(totalSample > 0) || !(tuningSample > 0)) throw new RangeError('sample sizes must be > 0');
	if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
	const minus2LogAlpha = -2 * Math.log(alpha);
	const rhoSquared = (minus2LogAlpha + Math.log(minus2LogAlpha + 1)) / tuningSample;
	const nRho2 = totalSample * rhoSquared;
	const halfWidthSquaredOverN = ((2 * (nRho2 + 1)) / (totalSample * nRho2)) * Math.log(Math.sqrt(nRho2 + 1) / alpha);
	return Math.sqrt(halfWidthSquaredOverN) * Math.sqrt(totalSample);
}
