/**
 * Campaign analysis and the winner decision (research report §2.3, §2.5).
 *
 * ## What the DB layer must feed (one object per variant)
 * The unit of randomisation and of analysis is the *unit* (user / client id) of
 * campaign_assignments; executions of one user are correlated, so rating metrics are first
 * aggregated per unit, then compared across units (report §2.3 (e)).
 *
 * - `units`: assigned units, `count(*)` of campaign_assignments for the variant. Used for SRM.
 * - `ratedUnits`: units with at least one rating, campaign_unit_stats rows with rating_count > 0.
 * - `goodShareSum`: Σ over rated units of good_count / rating_count. A unit's outcome for the
 *   primary metric `good_rating_share` is the share of its ratings that are ≥ 4 (1 or 0 for a
 *   unit with one rating, 2/3 for a unit that gave 5, 4, 2). The metric is the mean of that over
 *   rated units, so every user weighs the same however much they rate. It is analysed as a
 *   (fractional) Bernoulli proportion: Beta(1 + goodShareSum, 1 + ratedUnits − goodShareSum)
 *   posterior and the two-proportion z-test, which is conservative for fractional outcomes.
 * - `unitMeanRatingSum`, `unitMeanRatingSumSq`: Σ over rated units of the unit's mean rating
 *   (rating_sum / rating_count) and of its square. `mean_rating` is the mean over rated units of
 *   the unit's mean rating, compared with Welch's t-test; its chance to beat control and expected
 *   loss come from the Gaussian posterior of the difference (flat prior, as GrowthBook).
 * - `executions`, `succeeded`: finished executions (succeeded + failed; not in-flight or
 *   cancelled ones) and succeeded ones, from campaign_variant_stats. `success_rate` is analysed
 *   per execution with the Beta-Bernoulli model (failures are mostly technical, so the per-unit
 *   correlation matters less than for ratings).
 * - optional: `durationMsSum`/`durationCount` (mean duration, descriptive) and the per-rating
 *   totals `ratingCount`, `ratingSum`, `goodCount` (descriptive only; never used for a test).
 *
 * ```sql
 * SELECT variant_id,
 *        count(*) FILTER (WHERE rating_count > 0)                                AS rated_units,
 *        coalesce(sum(good_count::float8 / rating_count) FILTER (WHERE rating_count > 0), 0) AS good_share_sum,
 *        coalesce(sum(rating_sum::float8 / rating_count) FILTER (WHERE rating_count > 0), 0) AS unit_mean_rating_sum,
 *        coalesce(sum((rating_sum::float8 / rating_count) ^ 2) FILTER (WHERE rating_count > 0), 0) AS unit_mean_rating_sum_sq
 * FROM campaign_unit_stats WHERE campaign_id = $1 GROUP BY variant_id
 * ```
 * (`aggregateUnitRatings` computes the same from rows, for tests or small campaigns.)
 *
 * ## Decision policy
 * 1. `srm_alert` when the units split does not match the weights (χ² p < srmThreshold, 0.001):
 *    no result is trusted, whatever it says.
 * 2. `keep_running` until every arm in the decision (the control and every variant with
 *    weight > 0) has `minSamplePerVariant` units in the primary metric's sample (rated units for
 *    rating metrics, executions for success rate).
 * 3. `winner` (a variant) when, for the primary metric, all of these agree: the difference is
 *    significant (Benjamini–Hochberg-adjusted two-sided p < alpha over the variants compared; or,
 *    in sequential mode, the confidence sequence at alpha/m excludes 0), positive, the chance to
 *    beat control ≥ ctwThreshold, the expected loss ≤ maxExpectedLoss, and the success rate
 *    (guardrail) is not significantly worse. Several qualifying variants: the highest metric value.
 * 4. `winner` = the control when every variant is significantly worse by the same rules mirrored
 *    (chance to beat control ≤ 1 − ctwThreshold, expected loss of keeping the control ≤ limit).
 * 5. Otherwise `no_difference` once every arm has reached `horizonPerVariant` (the planned
 *    sample size, default minSamplePerVariant), else `keep_running`.
 * A fixed-horizon p-value checked daily inflates false positives (report §2.5); the required
 * agreement with the Bayesian figures and the minimum sample dampen that, and `sequentialTuningN`
 * makes the frequentist half peeking-safe.
 */
import { chanceToBeatControl, expectedLoss, type BetaPrior, type BinomialCounts, UNIFORM_PRIOR } from './beta';
import { gaussianChanceToWin, gaussianExpectedLoss, sequentialMultiplier } from './effect';
import {
	benjaminiHochberg,
	meanWithCi,
	srmTest,
	twoProportionZTest,
	welchTTest,
	wilsonInterval,
	type Interval,
	type SrmResult,
} from './tests';

export type PrimaryMetric = 'good_rating_share' | 'mean_rating' | 'success_rate';
export const PRIMARY_METRICS: readonly PrimaryMetric[] = ['good_rating_share', 'mean_rating', 'success_rate'];

export interface CampaignVariantInput {
	id: string;
	key: string;
	isControl: boolean;
	/** Traffic weight (any scale); 0 = paused, left out of the decision. */
	weight: number;
	units: number;
	ratedUnits: number;
	goodShareSum: number;
	unitMeanRatingSum: number;
	unitMeanRatingSumSq: number;
	executions: number;
	succeeded: number;
	durationMsSum?: number;
	durationCount?: number;
	ratingCount?: number;
	ratingSum?: number;
	goodCount?: number;
}

export interface CampaignAnalysisInput {
	variants: readonly CampaignVariantInput[];
	primaryMetric: PrimaryMetric;
	minSamplePerVariant: number;
	/** Planned sample per arm after which "nothing significant" means no_difference. */
	horizonPerVariant?: number;
	/** Two-sided significance level, default 0.05. */
	alpha?: number;
	/** Chance to beat control required, default 0.95. */
	ctwThreshold?: number;
	/**
	 * "Threshold of caring" (Stucchio) on the expected loss, in metric units. Default 0.01 for
	 * proportions (one percentage point), 0.05 stars for mean rating.
	 */
	maxExpectedLoss?: number;
	/** SRM alert threshold on the χ² p-value, default 0.001. */
	srmThreshold?: number;
	/**
	 * Expected split of `units`, default the variants' weights. Pass the time-averaged shares when
	 * weights changed during the campaign (Thompson mode), or SRM will fire spuriously.
	 */
	srmWeights?: readonly number[];
	/** Enables confidence sequences with this tuning sample N* (GrowthBook default 5,000). */
	sequentialTuningN?: number;
	/** Beta prior of the proportion metrics, default Beta(1, 1). */
	prior?: BetaPrior;
}

export interface Comparison {
	test: 'two_proportion_z' | 'welch_t';
	/** variant − control, in metric units. */
	difference: number;
	/** Interval for the difference: fixed-horizon at 1 − alpha, or the confidence sequence. */
	differenceCi: Interval;
	/** difference / control value; null when the control value is 0. */
	relativeLift: number | null;
	/** Two-sided fixed-horizon p-value. */
	pValue: number;
	/** Benjamini–Hochberg adjusted over the variants in the decision (primary metric only). */
	adjustedPValue: number;
	chanceToBeatControl: number;
	/** Expected loss of shipping this variant instead of the control. */
	expectedLoss: number;
	/** Expected loss of keeping the control instead of this variant. */
	controlExpectedLoss: number;
}

export interface MetricResult {
	/** Rated units (rating metrics) or finished executions (success rate). */
	sampleSize: number;
	value: number | null;
	/** Wilson (proportions) or t (mean) interval at 1 − alpha. */
	ci: Interval | null;
	/** null for the control and when either arm has too little data. */
	vsControl: Comparison | null;
}

export interface VariantAnalysis {
	id: string;
	key: string;
	isControl: boolean;
	weight: number;
	/** Whether the arm takes part in the decision (control, or weight > 0). */
	inDecision: boolean;
	units: number;
	expectedUnitShare: number;
	observedUnitShare: number | null;
	ratedUnits: number;
	/** ratedUnits / units: differences between arms signal response bias. */
	ratedRate: number | null;
	meetsMinimumSample: boolean;
	metrics: Record<PrimaryMetric, MetricResult>;
	meanDurationMs: number | null;
	perRating: { count: number; meanRating: number | null; goodShare: number | null };
}

export type CampaignStatus = 'keep_running' | 'winner' | 'no_difference' | 'srm_alert';

export interface CampaignDecision {
	status: CampaignStatus;
	winnerVariantId?: string;
	reasons: string[];
}

export interface CampaignAnalysis {
	primaryMetric: PrimaryMetric;
	alpha: number;
	ctwThreshold: number;
	maxExpectedLoss: number;
	minSamplePerVariant: number;
	horizonPerVariant: number;
	sequentialTuningN: number | null;
	variants: VariantAnalysis[];
	srm: SrmResult;
	/** SRM on rated units: a mismatch there (without one on units) is a response-bias warning. */
	ratedUnitsSrm: SrmResult;
	decision: CampaignDecision;
}

export interface UnitRatingRow {
	ratingCount: number;
	ratingSum: number;
	goodCount: number;
}

/** The per-variant rating aggregates of the module comment, from campaign_unit_stats rows. */
export function aggregateUnitRatings(rows: readonly UnitRatingRow[]): Pick<
	CampaignVariantInput,
	'ratedUnits' | 'goodShareSum' | 'unitMeanRatingSum' | 'unitMeanRatingSumSq'
> {
	let ratedUnits = 0;
	let goodShareSum = 0;
	let unitMeanRatingSum = 0;
	let unitMeanRatingSumSq = 0;
	for (const row of rows) {
		if (row.ratingCount <= 0) continue;
		const unitMean = row.ratingSum / row.ratingCount;
		ratedUnits++;
		goodShareSum += row.goodCount / row.ratingCount;
		unitMeanRatingSum += unitMean;
		unitMeanRatingSumSq += unitMean * unitMean;
	}
	return { ratedUnits, goodShareSum, unitMeanRatingSum, unitMeanRatingSumSq };
}

const METRIC_LABELS: Record<PrimaryMetric, string> = {
	good_rating_share: 'good-rating share',
	mean_rating: 'mean rating',
	success_rate: 'success rate',
};

/** Sums from SQL float8 aggregation may overshoot their bound by rounding. */
const ROUNDING_SLACK = 1e-9;

export function analyseCampaign(input: CampaignAnalysisInput): CampaignAnalysis {
	const alpha = input.alpha ?? 0.05;
	const ctwThreshold = input.ctwThreshold ?? 0.95;
	const primary = input.primaryMetric;
	const maxLoss = input.maxExpectedLoss ?? (primary === 'mean_rating' ? 0.05 : 0.01);
	const srmThreshold = input.srmThreshold ?? 0.001;
	const prior = input.prior ?? UNIFORM_PRIOR;
	const tuningN = input.sequentialTuningN ?? null;
	validateInput(input, alpha, ctwThreshold, maxLoss, tuningN);
	const minSample = input.minSamplePerVariant;
	const horizon = Math.max(input.horizonPerVariant ?? minSample, minSample);
	const variants = input.variants;
	const control = variants.find((v) => v.isControl) as CampaignVariantInput;
	const inDecision = (v: CampaignVariantInput): boolean => v.isControl || v.weight > 0;
	const activeTreatments = variants.filter((v) => !v.isControl && inDecision(v));
	// Welch needs two units per arm, so a mean-rating campaign never decides on fewer.
	const effectiveMinSample = primary === 'mean_rating' ? Math.max(minSample, 2) : minSample;

	const totalWeight = variants.reduce((s, v) => s + v.weight, 0);
	const totalUnits = variants.reduce((s, v) => s + v.units, 0);
	const srmWeights = input.srmWeights ?? variants.map((v) => v.weight);
	const srm = srmTest(variants.map((v) => v.units), srmWeights, srmThreshold);
	const ratedUnitsSrm = srmTest(variants.map((v) => v.ratedUnits), srmWeights, srmThreshold);

	// Per-comparison alpha of the sequential intervals: Bonferroni over the variants compared.
	const sequentialAlpha = alpha / Math.max(activeTreatments.length, 1);
	const compareOptions: CompareOptions = { alpha, prior, tuningN, sequentialAlpha };

	const analyses: VariantAnalysis[] = variants.map((v) => {
		const metrics = {} as Record<PrimaryMetric, MetricResult>;
		for (const metric of PRIMARY_METRICS) metrics[metric] = metricResult(metric, v, v.isControl ? null : control, compareOptions);
		const ratingCount = v.ratingCount ?? 0;
		return {
			id: v.id,
			key: v.key,
			isControl: v.isControl,
			weight: v.weight,
			inDecision: inDecision(v),
			units: v.units,
			expectedUnitShare: totalWeight > 0 ? v.weight / totalWeight : 0,
			observedUnitShare: totalUnits > 0 ? v.units / totalUnits : null,
			ratedUnits: v.ratedUnits,
			ratedRate: v.units > 0 ? v.ratedUnits / v.units : null,
			meetsMinimumSample: metrics[primary].sampleSize >= effectiveMinSample,
			metrics,
			meanDurationMs: v.durationCount && v.durationCount > 0 && v.durationMsSum !== undefined ? v.durationMsSum / v.durationCount : null,
			perRating: {
				count: ratingCount,
				meanRating: ratingCount > 0 && v.ratingSum !== undefined ? v.ratingSum / ratingCount : null,
				goodShare: ratingCount > 0 && v.goodCount !== undefined ? v.goodCount / ratingCount : null,
			},
		};
	});

	// Benjamini–Hochberg over the primary comparisons of the arms in the decision.
	const adjustable = analyses.filter((a) => !a.isControl && a.inDecision && a.metrics[primary].vsControl);
	const adjusted = benjaminiHochberg(adjustable.map((a) => (a.metrics[primary].vsControl as Comparison).pValue));
	adjustable.forEach((a, i) => {
		(a.metrics[primary].vsControl as Comparison).adjustedPValue = adjusted[i];
	});

	const decision = decide({
		analyses,
		primary,
		alpha,
		ctwThreshold,
		maxLoss,
		srm,
		ratedUnitsSrm,
		srmThreshold,
		effectiveMinSample,
		horizon,
		sequential: tuningN !== null,
	});
	return {
		primaryMetric: primary,
		alpha,
		ctwThreshold,
		maxExpectedLoss: maxLoss,
		minSamplePerVariant: minSample,
		horizonPerVariant: horizon,
		sequentialTuningN: tuningN,
		variants: analyses,
		srm,
		ratedUnitsSrm,
		decision,
	};
}

interface CompareOptions {
	alpha: number;
	prior: BetaPrior;
	tuningN: number | null;
	sequentialAlpha: number;
}

function proportionCounts(metric: PrimaryMetric, v: CampaignVariantInput): BinomialCounts {
	if (metric === 'success_rate') return { successes: v.succeeded, trials: v.executions };
	return { successes: Math.min(v.goodShareSum, v.ratedUnits), trials: v.ratedUnits };
}

function metricResult(metric: PrimaryMetric, v: CampaignVariantInput, control: CampaignVariantInput | null, options: CompareOptions): MetricResult {
	const level = 1 - options.alpha;
	if (metric === 'mean_rating') {
		const n = v.ratedUnits;
		if (n === 0) return { sampleSize: 0, value: null, ci: null, vsControl: null };
		const summary = meanWithCi(n, v.unitMeanRatingSum, v.unitMeanRatingSumSq, level);
		let vsControl: Comparison | null = null;
		if (control && n >= 2 && control.ratedUnits >= 2) {
			const c = meanWithCi(control.ratedUnits, control.unitMeanRatingSum, control.unitMeanRatingSumSq, level);
			const welch = welchTTest(c.mean, c.variance, c.count, summary.mean, summary.variance, summary.count, level);
			vsControl = {
				test: 'welch_t',
				difference: welch.difference,
				differenceCi: options.tuningN === null ? welch.ci : sequentialCi(welch.difference, welch.standardError, c.count + n, options),
				relativeLift: c.mean !== 0 ? welch.difference / c.mean : null,
				pValue: welch.pValue,
				adjustedPValue: welch.pValue,
				chanceToBeatControl: gaussianChanceToWin(welch.difference, welch.standardError),
				expectedLoss: gaussianExpectedLoss(welch.difference, welch.standardError),
				controlExpectedLoss: gaussianExpectedLoss(-welch.difference, welch.standardError),
			};
		}
		return { sampleSize: n, value: summary.mean, ci: summary.ci, vsControl };
	}
	const counts = proportionCounts(metric, v);
	if (counts.trials === 0) return { sampleSize: 0, value: null, ci: null, vsControl: null };
	let vsControl: Comparison | null = null;
	const controlCounts = control ? proportionCounts(metric, control) : null;
	if (controlCounts && controlCounts.trials > 0) {
		const z = twoProportionZTest(controlCounts, counts, level);
		const controlValue = controlCounts.successes / controlCounts.trials;
		vsControl = {
			test: 'two_proportion_z',
			difference: z.difference,
			differenceCi: options.tuningN === null ? z.ci : sequentialCi(z.difference, z.standardError, controlCounts.trials + counts.trials, options),
			relativeLift: controlValue !== 0 ? z.difference / controlValue : null,
			pValue: z.pValue,
			adjustedPValue: z.pValue,
			chanceToBeatControl: chanceToBeatControl(controlCounts, counts, options.prior),
			expectedLoss: expectedLoss(controlCounts, counts, options.prior),
			controlExpectedLoss: expectedLoss(counts, controlCounts, options.prior),
		};
	}
	return {
		sampleSize: counts.trials,
		value: counts.successes / counts.trials,
		ci: wilsonInterval(counts.successes, counts.trials, level),
		vsControl,
	};
}

function sequentialCi(difference: number, standardError: number, totalSample: number, options: CompareOptions): Interval {
	const margin = sequentialMultiplier(totalSample, options.tuningN as number, options.sequentialAlpha) * standardError;
	return [difference - margin, difference + margin];
}

interface DecideContext {
	analyses: VariantAnalysis[];
	primary: PrimaryMetric;
	alpha: number;
	ctwThreshold: number;
	maxLoss: number;
	srm: SrmResult;
	ratedUnitsSrm: SrmResult;
	srmThreshold: number;
	effectiveMinSample: number;
	horizon: number;
	sequential: boolean;
}

function decide(ctx: DecideContext): CampaignDecision {
	const { analyses, primary, alpha, ctwThreshold, maxLoss, srm } = ctx;
	const label = METRIC_LABELS[primary];
	const reasons: string[] = [];
	if (srm.alert) {
		reasons.push(
			`sample ratio mismatch: units ${analyses.map((a) => `${a.key} ${a.units}`).join(', ')} do not match the weights ` +
				`(χ² = ${fmt(srm.chi2, 4)}, p = ${fmtP(srm.pValue)} < ${ctx.srmThreshold}); assignment or logging is broken, no result can be trusted`,
		);
		return { status: 'srm_alert', reasons };
	}
	if (ctx.ratedUnitsSrm.alert) {
		reasons.push(`warning: rated units are not split as the weights (p = ${fmtP(ctx.ratedUnitsSrm.pValue)}): rating rates differ between variants (response bias)`);
	}
	const arms = analyses.filter((a) => a.inDecision);
	const controlArm = analyses.find((a) => a.isControl) as VariantAnalysis;
	const treatments = arms.filter((a) => !a.isControl);
	if (treatments.length === 0) {
		reasons.push('no variant with weight > 0 to compare with the control');
		return { status: 'keep_running', reasons };
	}
	const short = arms.filter((a) => !a.meetsMinimumSample);
	if (short.length > 0) {
		reasons.push(
			`minimum sample not reached (${ctx.effectiveMinSample} per variant): ` +
				short.map((a) => `${a.key} ${a.metrics[primary].sampleSize}`).join(', '),
		);
		return { status: 'keep_running', reasons };
	}

	const better: VariantAnalysis[] = [];
	const worse: VariantAnalysis[] = [];
	for (const arm of treatments) {
		const cmp = arm.metrics[primary].vsControl;
		if (!cmp) {
			reasons.push(`${arm.key}: no comparison possible for ${label}`);
			continue;
		}
		const significant = ctx.sequential ? cmp.differenceCi[0] > 0 || cmp.differenceCi[1] < 0 : cmp.adjustedPValue < alpha;
		const significance = ctx.sequential
			? `confidence sequence [${fmt(cmp.differenceCi[0], 4)}, ${fmt(cmp.differenceCi[1], 4)}]`
			: `p = ${fmtP(cmp.pValue)}${treatments.length > 1 ? ` (adjusted ${fmtP(cmp.adjustedPValue)})` : ''}`;
		const summary =
			`${arm.key} vs ${controlArm.key}: ${label} ${fmtMetric(primary, arm.metrics[primary].value)} vs ${fmtMetric(primary, controlArm.metrics[primary].value)}` +
			`${cmp.relativeLift === null ? '' : ` (${cmp.relativeLift >= 0 ? '+' : ''}${fmt(cmp.relativeLift * 100, 3)}%)`}, ${significance}, ` +
			`chance to beat control ${fmt(cmp.chanceToBeatControl * 100, 4)}%, expected loss ${fmt(cmp.expectedLoss, 3)}`;
		if (significant && cmp.difference > 0 && cmp.chanceToBeatControl >= ctwThreshold && cmp.expectedLoss <= maxLoss) {
			const guardrail = primary === 'success_rate' ? null : arm.metrics.success_rate.vsControl;
			if (guardrail && guardrail.pValue < alpha && guardrail.difference < 0) {
				reasons.push(`${summary}; better, but blocked by the success-rate guardrail (${fmt(guardrail.difference * 100, 3)} points, p = ${fmtP(guardrail.pValue)})`);
			} else {
				reasons.push(`${summary}; better on every criterion`);
				better.push(arm);
			}
		} else if (significant && cmp.difference < 0 && cmp.chanceToBeatControl <= 1 - ctwThreshold && cmp.controlExpectedLoss <= maxLoss) {
			reasons.push(`${summary}; worse on every criterion`);
			worse.push(arm);
		} else {
			reasons.push(`${summary}; not conclusive`);
		}
	}

	if (better.length > 0) {
		better.sort((a, b) => {
			const va = a.metrics[primary].value as number;
			const vb = b.metrics[primary].value as number;
			return vb - va || (b.metrics[primary].vsControl as Comparison).chanceToBeatControl - (a.metrics[primary].vsControl as Comparison).chanceToBeatControl;
		});
		const winner = better[0];
		reasons.unshift(`winner: ${winner.key}${better.length > 1 ? ` (highest ${label} of ${better.map((a) => a.key).join(', ')})` : ''}`);
		return { status: 'winner', winnerVariantId: winner.id, reasons };
	}
	if (worse.length === treatments.length) {
		reasons.unshift(`winner: ${controlArm.key} (the control; every variant is worse)`);
		return { status: 'winner', winnerVariantId: controlArm.id, reasons };
	}
	const horizonReached = arms.every((a) => a.metrics[primary].sampleSize >= ctx.horizon);
	if (horizonReached) {
		reasons.unshift(`no difference: planned sample (${ctx.horizon} per variant) reached without a variant better than ${controlArm.key} on every criterion`);
		return { status: 'no_difference', reasons };
	}
	reasons.unshift(`keep running: no variant conclusive yet; planned sample is ${ctx.horizon} per variant`);
	return { status: 'keep_running', reasons };
}

function validateInput(input: CampaignAnalysisInput, alpha: number, ctwThreshold: number, maxLoss: number, tuningN: number | null): void {
	if (!PRIMARY_METRICS.includes(input.primaryMetric)) throw new RangeError(`unknown primary metric ${String(input.primaryMetric)}`);
	if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
	if (!(ctwThreshold > 0.5 && ctwThreshold < 1)) throw new RangeError(`ctwThreshold must be in (0.5, 1), got ${ctwThreshold}`);
	if (!(maxLoss >= 0)) throw new RangeError(`maxExpectedLoss must be >= 0, got ${maxLoss}`);
	if (tuningN !== null && !(tuningN > 0)) throw new RangeError(`sequentialTuningN must be > 0, got ${tuningN}`);
	if (!Number.isInteger(input.minSamplePerVariant) || input.minSamplePerVariant < 1) {
		throw new RangeError(`minSamplePerVariant must be a positive integer, got ${input.minSamplePerVariant}`);
	}
	const variants = input.variants;
	if (variants.length < 2) throw new RangeError('a campaign needs at least two variants');
	const controls = variants.filter((v) => v.isControl).length;
	if (controls !== 1) throw new RangeError(`exactly one variant must be the control, found ${controls}`);
	if (new Set(variants.map((v) => v.id)).size !== variants.length) throw new RangeError('variant ids must be unique');
	if (input.srmWeights && input.srmWeights.length !== variants.length) throw new RangeError('srmWeights needs one weight per variant');
	for (const v of variants) {
		const counts: [string, number][] = [
			['weight', v.weight],
			['units', v.units],
			['ratedUnits', v.ratedUnits],
			['goodShareSum', v.goodShareSum],
			['unitMeanRatingSum', v.unitMeanRatingSum],
			['unitMeanRatingSumSq', v.unitMeanRatingSumSq],
			['executions', v.executions],
			['succeeded', v.succeeded],
		];
		for (const [name, value] of counts) {
			if (!Number.isFinite(value) || value < 0) throw new RangeError(`${v.key}: ${name} must be a finite number >= 0, got ${value}`);
		}
		if (v.goodShareSum > v.ratedUnits + ROUNDING_SLACK) throw new RangeError(`${v.key}: goodShareSum cannot exceed ratedUnits`);
		if (v.succeeded > v.executions) throw new RangeError(`${v.key}: succeeded cannot exceed executions`);
	}
	if (!variants.some((v) => v.weight > 0)) throw new RangeError('at least one variant needs a positive weight');
}

function fmt(value: number, significant: number): string {
	return Number.isFinite(value) ? String(Number(value.toPrecision(significant))) : String(value);
}

function fmtP(p: number): string {
	return p < 1e-4 ? p.toExponential(1) : fmt(p, 2);
}

function fmtMetric(metric: PrimaryMetric, value: number | null): string {
	if (value === null) return 'n/a';
	return metric === 'mean_rating' ? value.toFixed(2) : `${(value * 100).toFixed(1)}%`;
}
