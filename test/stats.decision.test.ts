import { aggregateUnitRatings, analyseCampaign, type CampaignAnalysisInput, type CampaignVariantInput } from '../lib/stats/decision';
import { seededRandom } from '../lib/stats/random';

interface VariantSpec {
	key: string;
	isControl?: boolean;
	weight?: number;
	units: number;
	ratedUnits: number;
	/** Mean over rated units of the unit's share of ratings ≥ 4. */
	goodShare: number;
	/** Mean and sd over rated units of the unit's mean rating. */
	meanRating?: number;
	sdRating?: number;
	executions?: number;
	succeeded?: number;
}

function variant(spec: VariantSpec): CampaignVariantInput {
	const n = spec.ratedUnits;
	const mean = spec.meanRating ?? 3.5;
	const sd = spec.sdRating ?? 1;
	const executions = spec.executions ?? spec.units * 2;
	return {
		id: `id-${spec.key}`,
		key: spec.key,
		isControl: spec.isControl ?? false,
		weight: spec.weight ?? 1,
		units: spec.units,
		ratedUnits: n,
		goodShareSum: spec.goodShare * n,
		unitMeanRatingSum: mean * n,
		unitMeanRatingSumSq: n > 1 ? (n - 1) * sd * sd + n * mean * mean : n * mean * mean,
		executions,
		succeeded: spec.succeeded ?? Math.round(executions * 0.95),
	};
}

function campaign(variants: VariantSpec[], options: Partial<CampaignAnalysisInput> = {}): CampaignAnalysisInput {
	return { variants: variants.map(variant), primaryMetric: 'good_rating_share', minSamplePerVariant: 100, ...options };
}

describe('analyseCampaign: winner only when every signal agrees', () => {
	test('a clearly better variant wins', () => {
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.5 },
				{ key: 'B', units: 1010, ratedUnits: 810, goodShare: 0.6 },
			]),
		);
		expect(result.decision.status).toBe('winner');
		expect(result.decision.winnerVariantId).toBe('id-B');
		const b = result.variants[1].metrics.good_rating_share;
		expect(b.value).toBeCloseTo(0.6, 12);
		expect(b.vsControl?.pValue).toBeLessThan(0.001);
		expect(b.vsControl?.chanceToBeatControl).toBeGreaterThan(0.99);
		expect(b.vsControl?.relativeLift).toBeCloseTo(0.2, 12);
		expect(result.srm.alert).toBe(false);
		expect(result.decision.reasons[0]).toMatch(/^winner: B/);
	});

	test('never below the minimum sample, however large the effect', () => {
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 120, ratedUnits: 99, goodShare: 0.2 },
				{ key: 'B', units: 120, ratedUnits: 99, goodShare: 0.9 },
			]),
		);
		expect(result.decision.status).toBe('keep_running');
		expect(result.decision.winnerVariantId).toBeUndefined();
		expect(result.variants[1].metrics.good_rating_share.vsControl?.pValue).toBeLessThan(1e-10);
		expect(result.decision.reasons.join(' ')).toContain('minimum sample not reached');
	});

	test('never when SRM alerts, however large the effect', () => {
		// 5200 vs 4800 at 50/50: χ² = 16, p ≈ 6.3e-5 < 0.001
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 5200, ratedUnits: 4000, goodShare: 0.4 },
				{ key: 'B', units: 4800, ratedUnits: 3800, goodShare: 0.7 },
			]),
		);
		expect(result.srm.chi2).toBeCloseTo(16, 10);
		expect(result.srm.alert).toBe(true);
		expect(result.decision.status).toBe('srm_alert');
		expect(result.decision.winnerVariantId).toBeUndefined();
	});

	test('the report example (40/200 vs 55/200): chance to beat control 96% but p = 0.078, so no winner', () => {
		const spec: VariantSpec[] = [
			{ key: 'control', isControl: true, units: 260, ratedUnits: 200, goodShare: 40 / 200 },
			{ key: 'B', units: 255, ratedUnits: 200, goodShare: 55 / 200 },
		];
		const atHorizon = analyseCampaign(campaign(spec, { horizonPerVariant: 200 }));
		const cmp = atHorizon.variants[1].metrics.good_rating_share.vsControl;
		expect(cmp?.chanceToBeatControl.toFixed(5)).toBe('0.96051'); // check-stats.mjs closed form
		expect(cmp?.pValue.toFixed(5)).toBe('0.07800'); // check-stats.mjs z-test
		expect(atHorizon.decision.status).toBe('no_difference');
		const early = analyseCampaign(campaign(spec, { horizonPerVariant: 1500 }));
		expect(early.decision.status).toBe('keep_running');
	});

	test('the control wins when every variant is significantly worse', () => {
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.6 },
				{ key: 'B', units: 1000, ratedUnits: 800, goodShare: 0.45 },
				{ key: 'C', units: 1000, ratedUnits: 800, goodShare: 0.5 },
			]),
		);
		expect(result.decision.status).toBe('winner');
		expect(result.decision.winnerVariantId).toBe('id-control');
	});

	test('one variant worse, one inconclusive: no winner', () => {
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.6 },
				{ key: 'B', units: 1000, ratedUnits: 800, goodShare: 0.45 },
				{ key: 'C', units: 1000, ratedUnits: 800, goodShare: 0.61 },
			]),
		);
		expect(result.decision.status).toBe('no_difference');
		expect(result.decision.winnerVariantId).toBeUndefined();
	});

	test('mean rating as primary metric uses Welch on per-unit means (check-stats.mjs Welch example)', () => {
		const result = analyseCampaign(
			campaign(
				[
					{ key: 'control', isControl: true, units: 90, ratedUnits: 80, goodShare: 0.5, meanRating: 3.6, sdRating: 1.1 },
					{ key: 'B', units: 85, ratedUnits: 75, goodShare: 0.5, meanRating: 3.95, sdRating: 0.9 },
				],
				{ primaryMetric: 'mean_rating', minSamplePerVariant: 50 },
			),
		);
		const cmp = result.variants[1].metrics.mean_rating.vsControl;
		expect(cmp?.test).toBe('welch_t');
		expect(cmp?.pValue).toBeCloseTo(0.03128968145566632, 10);
		expect(cmp?.difference).toBeCloseTo(0.35, 12);
		expect(cmp?.chanceToBeatControl).toBeGreaterThan(0.95);
		expect(result.decision.status).toBe('winner');
		expect(result.decision.winnerVariantId).toBe('id-B');
	});

	test('success-rate guardrail blocks a variant that rates better but fails more', () => {
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.5, executions: 2000, succeeded: 1900 },
				{ key: 'B', units: 1000, ratedUnits: 800, goodShare: 0.6, executions: 2000, succeeded: 1600 },
			]),
		);
		expect(result.decision.status).not.toBe('winner');
		expect(result.decision.reasons.join(' ')).toContain('guardrail');
	});

	test('Benjamini–Hochberg: a p ≈ 0.03 wins alone but not among three variants', () => {
		const control: VariantSpec = { key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.5 };
		const b: VariantSpec = { key: 'B', units: 1000, ratedUnits: 800, goodShare: 0.555 };
		const alone = analyseCampaign(campaign([control, b]));
		expect(alone.variants[1].metrics.good_rating_share.vsControl?.pValue).toBeLessThan(0.05);
		expect(alone.decision.status).toBe('winner');
		const crowded = analyseCampaign(
			campaign([control, b, { key: 'C', units: 1000, ratedUnits: 800, goodShare: 0.5 }, { key: 'D', units: 1000, ratedUnits: 800, goodShare: 0.5 }]),
		);
		expect(crowded.variants[1].metrics.good_rating_share.vsControl?.adjustedPValue).toBeGreaterThan(0.05);
		expect(crowded.decision.status).not.toBe('winner');
	});

	test('sequential mode (confidence sequences) is stricter than a fixed-horizon p-value', () => {
		const spec: VariantSpec[] = [
			{ key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.5 },
			{ key: 'B', units: 1000, ratedUnits: 800, goodShare: 0.555 },
		];
		const sequential = analyseCampaign(campaign(spec, { sequentialTuningN: 5000 }));
		const fixed = analyseCampaign(campaign(spec));
		const sequentialCi = sequential.variants[1].metrics.good_rating_share.vsControl?.differenceCi as [number, number];
		const fixedCi = fixed.variants[1].metrics.good_rating_share.vsControl?.differenceCi as [number, number];
		expect(sequentialCi[1] - sequentialCi[0]).toBeGreaterThan(fixedCi[1] - fixedCi[0]);
		expect(sequentialCi[0]).toBeLessThan(0);
		expect(sequential.decision.status).not.toBe('winner');
		// A large effect still wins in sequential mode.
		const large = analyseCampaign(campaign([spec[0], { ...spec[1], goodShare: 0.62 }], { sequentialTuningN: 5000 }));
		expect(large.decision.status).toBe('winner');
	});

	test('a paused (zero-weight) variant is reported but neither blocks nor joins the decision', () => {
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.5 },
				{ key: 'B', units: 1000, ratedUnits: 800, goodShare: 0.6 },
				{ key: 'paused', weight: 0, units: 0, ratedUnits: 0, goodShare: 0 },
			]),
		);
		expect(result.variants[2].inDecision).toBe(false);
		expect(result.variants[2].metrics.good_rating_share.value).toBeNull();
		expect(result.srm.df).toBe(1);
		expect(result.decision.status).toBe('winner');
	});

	test('success rate as primary metric is per execution', () => {
		const result = analyseCampaign(
			campaign(
				[
					{ key: 'control', isControl: true, units: 300, ratedUnits: 0, goodShare: 0, executions: 1000, succeeded: 900 },
					{ key: 'B', units: 300, ratedUnits: 0, goodShare: 0, executions: 1000, succeeded: 960 },
				],
				{ primaryMetric: 'success_rate' },
			),
		);
		expect(result.variants[1].metrics.success_rate.sampleSize).toBe(1000);
		expect(result.variants[1].metrics.good_rating_share.value).toBeNull();
		expect(result.decision.status).toBe('winner');
	});

	test('a response-bias warning when rated units are not split like the units', () => {
		const result = analyseCampaign(
			campaign([
				{ key: 'control', isControl: true, units: 1000, ratedUnits: 800, goodShare: 0.5 },
				{ key: 'B', units: 1000, ratedUnits: 600, goodShare: 0.52 },
			]),
		);
		expect(result.srm.alert).toBe(false);
		expect(result.ratedUnitsSrm.alert).toBe(true);
		expect(result.decision.reasons.join(' ')).toContain('response bias');
	});

	test('invalid campaigns are rejected', () => {
		const ok = { key: 'B', units: 10, ratedUnits: 5, goodShare: 0.5 };
		expect(() => analyseCampaign(campaign([ok, { ...ok, key: 'C' }]))).toThrow(/control/);
		expect(() => analyseCampaign(campaign([{ ...ok, isControl: true }, { ...ok, key: 'C', isControl: true }]))).toThrow(/control/);
		expect(() => analyseCampaign(campaign([{ ...ok, isControl: true }]))).toThrow(/two variants/);
		expect(() => analyseCampaign(campaign([{ ...ok, isControl: true }, { ...ok, key: 'C', goodShare: 1.5 }]))).toThrow(/goodShareSum/);
		expect(() => analyseCampaign(campaign([{ ...ok, isControl: true }, { ...ok, key: 'C' }], { minSamplePerVariant: 0 }))).toThrow(RangeError);
		expect(() => analyseCampaign(campaign([{ ...ok, isControl: true }, { ...ok, key: 'C' }], { alpha: 1 }))).toThrow(RangeError);
	});
});

test('randomised campaigns: a winner is never declared below the minimum sample or under an SRM alert', () => {
	const random = seededRandom('decision-sweep');
	let winners = 0;
	let guarded = 0;
	for (let i = 0; i < 400; i++) {
		const arms = 2 + Math.floor(random() * 3);
		const specs: VariantSpec[] = Array.from({ length: arms }, (_, k) => {
			const units = 20 + Math.floor(random() * 3000);
			const ratedUnits = Math.floor(units * (0.3 + 0.6 * random()));
			return { key: `v${k}`, isControl: k === 0, units, ratedUnits, goodShare: 0.2 + 0.6 * random(), meanRating: 2 + 2.5 * random(), sdRating: 0.5 + random() };
		});
		const minSamplePerVariant = 50 + Math.floor(random() * 800);
		const result = analyseCampaign(campaign(specs, { minSamplePerVariant, primaryMetric: random() < 0.5 ? 'good_rating_share' : 'mean_rating' }));
		const short = specs.some((s) => s.ratedUnits < minSamplePerVariant);
		if (short || result.srm.alert) {
			guarded++;
			expect(result.decision.status).not.toBe('winner');
			expect(result.decision.winnerVariantId).toBeUndefined();
		}
		if (result.decision.status === 'winner') winners++;
	}
	// The sweep exercises both sides of the rule.
	expect(guarded).toBeGreaterThan(50);
	expect(winners).toBeGreaterThan(5);
});

test('aggregateUnitRatings: each unit counts once, with its own share and mean', () => {
	// unit 1 rated 5, 4, 2 (share 2/3, mean 11/3); unit 2 rated 3 (0, 3); unit 3 assigned, never rated.
	const aggregates = aggregateUnitRatings([
		{ ratingCount: 3, ratingSum: 11, goodCount: 2 },
		{ ratingCount: 1, ratingSum: 3, goodCount: 0 },
		{ ratingCount: 0, ratingSum: 0, goodCount: 0 },
	]);
	expect(aggregates.ratedUnits).toBe(2);
	expect(aggregates.goodShareSum).toBeCloseTo(2 / 3, 15);
	expect(aggregates.unitMeanRatingSum).toBeCloseTo(11 / 3 + 3, 14);
	expect(aggregates.unitMeanRatingSumSq).toBeCloseTo((11 / 3) ** 2 + 9, 13);
});
