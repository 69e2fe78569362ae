/**
 * Frequentist tests from the research report §2.3 (b)–(d): two-proportion z-test, Welch's t-test,
 * means with confidence intervals from stored aggregates (count, sum, sum of squares), the SRM χ²
 * test, sample-size formulas and the Benjamini–Hochberg adjustment for several variants.
 */
import type { BinomialCounts } from './beta';
import { chiSquareSurvival, normalCdf, normalQuantile, studentTQuantile, studentTTwoSidedP } from './special';

export type Interval = [number, number];

export interface TwoProportionZResult {
	/** p̂_variant − p̂_control */
	difference: number;
	/** Pooled-variance z statistic (the test). */
	z: number;
	/** Two-sided p-value 2·Φ(−|z|). */
	pValue: number;
	/** Unpooled standard error of the difference (the interval). */
	standardError: number;
	/** Unpooled Wald interval for the difference at `level`. */
	ci: Interval;
}

/**
 * Two-proportion z-test of variant against control: pooled SE for the test, unpooled SE for the
 * interval (report §2.3 (b)). With no variance at all (both 0% or both 100%) z = 0 and p = 1.
 */
export function twoProportionZTest(control: BinomialCounts, variant: BinomialCounts, level = 0.95): TwoProportionZResult {
	checkLevel(level);
	for (const arm of [control, variant]) {
		if (!(arm.trials > 0) || arm.successes < 0 || arm.successes > arm.trials) {
			throw new RangeError(`need trials > 0 and 0 <= successes <= trials, got ${arm.successes}/${arm.trials}`);
		}
	}
	const pC = control.successes / control.trials;
	const pV = variant.successes / variant.trials;
	const pooled = (control.successes + variant.successes) / (control.trials + variant.trials);
	const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / control.trials + 1 / variant.trials));
	const difference = pV - pC;
	const z = pooledSe > 0 ? difference / pooledSe : 0;
	const standardError = Math.sqrt((pC * (1 - pC)) / control.trials + (pV * (1 - pV)) / variant.trials);
	const margin = normalQuantile(1 - (1 - level) / 2) * standardError;
	return { difference, z, pValue: 2 * normalCdf(-Math.abs(z)), standardError, ci: [difference - margin, difference + margin] };
}

export interface WelchResult {
	/** mean_B − mean_A */
	difference: number;
	t: number;
	/** Welch–Satterthwaite degrees of freedom. */
	df: number;
	/** Two-sided p-value. */
	pValue: number;
	standardError: number;
	/** Interval for the difference: difference ± t_{(1+level)/2, df}·SE. */
	ci: Interval;
}

/**
 * Welch's unequal-variance t-test of B against A from summary statistics (variances are sample
 * variances, n − 1 denominator). Needs nA, nB ≥ 2. When both variances are 0 the test
 * degenerates: p = 1 for equal means, p = 0 (t = ±∞) otherwise.
 */
export function welchTTest(meanA: number, varA: number, nA: number, meanB: number, varB: number, nB: number, level = 0.95): WelchResult {
	checkLevel(level);
	if (!(nA >= 2) || !(nB >= 2)) throw new RangeError(`Welch's test needs at least 2 observations per group, got ${nA} and ${nB}`);
	if (!(varA >= 0) || !(varB >= 0)) throw new RangeError('variances must be >= 0');
	const vA = varA / nA;
	const vB = varB / nB;
	const standardError = Math.sqrt(vA + vB);
	const difference = meanB - meanA;
	if (standardError === 0) {
		const t = difference === 0 ? 0 : difference > 0 ? Infinity : -Infinity;
		return { difference, t, df: nA + nB - 2, pValue: difference === 0 ? 1 : 0, standardError, ci: [difference, difference] };
	}
	const t = difference / standardError;
	const df = (vA + vB) ** 2 / ((vA * vA) / (nA - 1) + (vB * vB) / (nB - 1));
	const margin = studentTQuantile(1 - (1 - level) / 2, df) * standardError;
	return { difference, t, df, pValue: studentTTwoSidedP(t, df), standardError, ci: [difference - margin, difference + margin] };
}

export interface MeanWithCi {
	count: number;
	mean: number;
	/** Sample variance (n − 1 denominator); 0 when count < 2. */
	variance: number;
	standardDeviation: number;
	standardError: number;
	/** Student t interval; null when count < 2 (no spread to speak of). */
	ci: Interval | null;
}

/**
 * Mean, sample variance and t interval from aggregates, which is how the DB stores ratings
 * (count, sum, sum of squares). Rounding can make sumSq − sum²/n slightly negative: clamped to 0.
 */
export function meanWithCi(count: number, sum: number, sumSq: number, level = 0.95): MeanWithCi {
	checkLevel(level);
	if (!(count > 0)) throw new RangeError(`count must be > 0, got ${count}`);
	const mean = sum / count;
	if (count < 2) return { count, mean, variance: 0, standardDeviation: 0, standardError: 0, ci: null };
	const variance = Math.max(0, (sumSq - (sum * sum) / count) / (count - 1));
	const standardError = Math.sqrt(variance / count);
	const margin = studentTQuantile(1 - (1 - level) / 2, count - 1) * standardError;
	return { count, mean, variance, standardDeviation: Math.sqrt(variance), standardError, ci: [mean - margin, mean + margin] };
}

/**
 * Wilson score interval for a proportion (successes may be fractional). At n = 0 it is [0, 1].
 */
export function wilsonInterval(successes: number, n: number, level = 0.95): Interval {
	checkLevel(level);
	if (n === 0) return [0, 1];
	return wilsonBounds(successes, n, normalQuantile(1 - (1 - level) / 2));
}

/** Wilson bounds for a given z (shared with popularity's lower bound). */
export function wilsonBounds(successes: number, n: number, z: number): Interval {
	if (!(n > 0) || successes < 0 || successes > n) throw new RangeError(`need n > 0 and 0 <= successes <= n, got ${successes}/${n}`);
	const p = successes / n;
	const z2 = z * z;
	const center = p + z2 / (2 * n);
	const margin = z * Math.sqrt((p * (1 - p) + z2 / (4 * n)) / n);
	const denominator = 1 + z2 / n;
	return [Math.max(0, (center - margin) / denominator), Math.min(1, (center + margin) / denominator)];
}

export interface SrmResult {
	chi2: number;
	df: number;
	pValue: number;
	/** pValue < threshold (GrowthBook's 0.001 by default). */
	alert: boolean;
	/** Expected counts per variant (N·w_i/Σw). */
	expected: number[];
}

/**
 * Sample-ratio-mismatch test: Pearson χ² of observed units against the configured weights,
 * df = k − 1 (report §2.3 (d)). Variants with weight 0 and no units are left out (a paused arm);
 * a zero-weight variant that has units is an infinite mismatch (p = 0).
 */
export function srmTest(observedCounts: readonly number[], expectedWeights: readonly number[], threshold = 0.001): SrmResult {
	if (observedCounts.length !== expectedWeights.length) throw new RangeError('one weight per observed count is required');
	if (observedCounts.some((o) => !(o >= 0))) throw new RangeError('observed counts must be >= 0');
	if (expectedWeights.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new RangeError('weights must be finite and >= 0');
	const totalWeight = expectedWeights.reduce((a, b) => a + b, 0);
	if (!(totalWeight > 0)) throw new RangeError('at least one weight must be positive');
	const totalObserved = observedCounts.reduce((a, b) => a + b, 0);
	const expected = expectedWeights.map((w) => (w / totalWeight) * totalObserved);
	let chi2 = 0;
	let cells = 0;
	for (let i = 0; i < observedCounts.length; i++) {
		if (expectedWeights[i] === 0) {
			if (observedCounts[i] > 0) chi2 = Infinity;
			continue;
		}
		cells++;
		if (expected[i] > 0) chi2 += (observedCounts[i] - expected[i]) ** 2 / expected[i];
	}
	const df = Math.max(cells - 1, 0);
	const pValue = chi2 === Infinity ? 0 : totalObserved === 0 || df === 0 ? 1 : chiSquareSurvival(chi2, df);
	return { chi2, df, pValue, alert: pValue < threshold, expected };
}

/**
 * Units per arm for a two-sided two-proportion test (report §2.3 (b)):
 * n = (z_{1−α/2} + z_{1−β})²·(p_A(1−p_A) + p_B(1−p_B))/(p_B − p_A)², rounded up.
 */
export function sampleSizeTwoProportions(pA: number, pB: number, alpha = 0.05, power = 0.8): number {
	if (pA === pB) throw new RangeError('the two proportions must differ');
	const zSum = normalQuantile(1 - alpha / 2) + normalQuantile(power);
	return Math.ceil((zSum * zSum * (pA * (1 - pA) + pB * (1 - pB))) / (pB - pA) ** 2);
}

/** Units per arm to detect a mean difference δ with common sd σ: 2(z_{1−α/2} + z_{1−β})²σ²/δ². */
export function sampleSizeMeans(sigma: number, delta: number, alpha = 0.05, power = 0.8): number {
	if (delta === 0) throw new RangeError('delta must be non-zero');
	const zSum = normalQuantile(1 - alpha / 2) + normalQuantile(power);
	return Math.ceil((2 * zSum * zSum * sigma * sigma) / (delta * delta));
}

/** Benjamini–Hochberg adjusted p-values (step-up, monotone, capped at 1), in input order. */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
	const m = pValues.length;
	const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
	const adjusted = new Array<number>(m);
	let running = 1;
	for (let rank = m; rank >= 1; rank--) {
		const { p, i } = order[rank - 1];
		running = Math.min(running, (p * m) / rank);
		adjusted[i] = running;
	}
	return adjusted;
}

function checkLevel(level: number): void {
	if (!(level > 0 && level < 1)) throw new RangeError(`confidence level must be in (0, 1), got ${level}`);
}
