/**
 * Results: per-variant metrics, comparisons with the control, the SRM checks and the decision,
 * read from the aggregate tables only (never feedback or executions), with the one-line summary
 * a person reads.
 */
import { z } from 'zod';

import { variantAggregates, type Campaign } from '../db/campaigns';
import type { Queryable } from '../db/pool';
import {
	analyseCampaign,
	type CampaignAnalysis,
	type CampaignStatus as DecisionStatus,
	type CampaignVariantInput,
	type Interval,
	type PrimaryMetric,
	type SrmResult,
} from '../stats';
import { defineInput } from '../validation';
import { thompsonExpectedSplit } from './allocation';
import { loadCampaign } from './query';
import { campaignRef } from './schemas';

export interface VariantResult {
	id: string;
	key: string;
	isControl: boolean;
	templateId: string;
	templateName: string;
	version: number;
	versionId: string;
	label: string | null;
	weight: number;
	units: number;
	expectedUnitShare: number;
	observedUnitShare: number | null;
	/** Executions started for the variant (any status). */
	executions: number;
	/** Finished executions (succeeded + failed): the sample of the success rate. */
	finishedExecutions: number;
	succeeded: number;
	failed: number;
	successRate: { value: number | null; ci: Interval | null };
	ratedUnits: number;
	/** Rated units / assigned units. */
	ratedShare: number | null;
	/** Mean over rated units of each unit's mean rating. */
	meanRating: { value: number | null; ci: Interval | null };
	/** Mean over rated units of each unit's share of ratings ≥ 4 (the default primary metric). */
	goodRatingShare: { value: number | null; ci: Interval | null };
	meanDurationMs: number | null;
	/** Per-rating descriptive totals (not used for any test). */
	ratings: { count: number; mean: number | null; goodShare: number | null };
	meetsMinimumSample: boolean;
	/** Primary metric vs the control (null for the control, or too little data). */
	vsControl: {
		metric: PrimaryMetric;
		difference: number;
		differenceCi: Interval;
		relativeLift: number | null;
		chanceToBeatControl: number;
		expectedLoss: number;
		pValue: number;
		adjustedPValue: number;
	} | null;
}

/**
 * What the campaign decided. While it runs: the statistics' decision on the data so far. Once it
 * is completed (Complete or Promote): its final decision, which no longer changes, because a
 * completed campaign's aggregates are frozen (lib/db/feedback.ts): 'winner' with the promoted
 * variant once promoted (forced or not); otherwise the statistics' decision on the frozen data,
 * with 'inconclusive' where they would say "keep running".
 */
export type CampaignDecisionStatus = DecisionStatus | 'inconclusive';

export interface CampaignDecisionResult {
	status: CampaignDecisionStatus;
	winnerVariantId: string | null;
	winnerVariantKey: string | null;
	/** "keep running", "B wins", "no difference", "sample ratio mismatch: …"; "completed: B promoted", … once completed. */
	summary: string;
	reasons: string[];
	/** The campaign is completed and this is its final decision. */
	final: boolean;
	/** The promoted variant was forced by a person over the statistics' decision (false until promoted). */
	forced: boolean;
}

export interface CampaignResults {
	campaign: Omit<Campaign, 'variants'>;
	primaryMetric: PrimaryMetric;
	variants: VariantResult[];
	/** Sample-ratio-mismatch check on assigned units (alert when p < 0.001). */
	srm: SrmResult;
	/** The same on rated units: a mismatch there is a response-bias warning. */
	ratedUnitsSrm: SrmResult;
	decision: CampaignDecisionResult;
	/** Expected unit share per variant used by the SRM check (time-weighted in Thompson mode). */
	expectedSplit: number[];
	analysis: CampaignAnalysis;
	computedAt: string;
}

/** Statistical tuning of the decision (analyseCampaign's defaults otherwise); not user input. */
export interface ResultsOptions {
	alpha?: number;
	ctwThreshold?: number;
	maxExpectedLoss?: number;
	horizonPerVariant?: number;
	sequentialTuningN?: number;
}

export interface ExecutionTotals {
	executions: number;
	succeeded: number;
	failed: number;
}

/** The analyseCampaign inputs of a campaign, the expected split of the SRM check, and execution totals. */
async function campaignAnalysisInputs(
	db: Queryable,
	campaign: Campaign,
): Promise<{ inputs: CampaignVariantInput[]; expectedSplit: number[]; totals: ExecutionTotals[] }> {
	const aggregates = await variantAggregates(db, campaign.id);
	const inputs = aggregates.map((a, i): CampaignVariantInput => {
		const v = campaign.variants[i];
		return {
			id: v.id,
			key: v.key,
			isControl: v.isControl,
			weight: v.weight,
			units: a.units,
			ratedUnits: a.ratedUnits,
			goodShareSum: a.goodShareSum,
			unitMeanRatingSum: a.unitMeanRatingSum,
			unitMeanRatingSumSq: a.unitMeanRatingSumSq,
			// the success rate is over finished runs (succeeded + failed); queued, running or cancelled ones are not outcomes
			executions: a.succeeded + a.failed,
			succeeded: a.succeeded,
			durationMsSum: a.durationMsSum,
			durationCount: a.durationCount,
			ratingCount: a.ratingCount,
			ratingSum: a.ratingSum,
			goodCount: a.goodCount,
		};
	});
	const totals = aggregates.map((a) => ({ executions: a.executions, succeeded: a.succeeded, failed: a.failed }));
	const totalWeight = campaign.variants.reduce((s, v) => s + v.weight, 0);
	let expectedSplit = campaign.variants.map((v) => v.weight / totalWeight);
	if (campaign.mode === 'thompson') {
		const totalUnits = inputs.reduce((s, v) => s + v.units, 0);
		expectedSplit = await thompsonExpectedSplit(db, campaign, totalUnits, expectedSplit);
	}
	return { inputs, expectedSplit, totals };
}

/** The decision in a few words, for people (workflows branch on `status`, never on this). */
function decisionSummary(status: DecisionStatus, winnerKey: string | null): string {
	switch (status) {
		case 'winner':
			return `${winnerKey} wins`;
		case 'no_difference':
			return 'no difference';
		case 'srm_alert':
			return 'sample ratio mismatch: results cannot be trusted';
		default:
			return 'keep running';
	}
}

/** The summary of a completed campaign that was not promoted. */
function completedSummary(status: DecisionStatus, winnerKey: string | null): string {
	switch (status) {
		case 'winner':
			return `completed: ${winnerKey} wins (not promoted)`;
		case 'no_difference':
			return 'completed: no difference';
		case 'srm_alert':
			return 'completed: sample ratio mismatch, results cannot be trusted';
		default:
			return 'completed: inconclusive (no variant was conclusive)';
	}
}

/**
 * The decision of a campaign (see CampaignDecisionResult): the statistics' decision while it
 * runs, the final one once it is completed. Promote and the results use this one function, so
 * the promotion's answer, the results and the weekly report say the same.
 */
export function campaignDecision(campaign: Campaign, analysis: CampaignAnalysis): CampaignDecisionResult {
	const statistical = analysis.decision;
	const keyOf = (id: string | null | undefined) => campaign.variants.find((v) => v.id === id)?.key ?? null;
	const statisticalWinnerId = statistical.winnerVariantId ?? null;
	const statisticalKey = keyOf(statisticalWinnerId);
	if (campaign.status !== 'completed') {
		return {
			status: statistical.status,
			winnerVariantId: statisticalWinnerId,
			winnerVariantKey: statisticalKey,
			summary: decisionSummary(statistical.status, statisticalKey),
			reasons: statistical.reasons,
			final: false,
			forced: false,
		};
	}
	if (campaign.winnerVariantId) {
		const key = keyOf(campaign.winnerVariantId);
		const forced = statistical.status !== 'winner' || statisticalWinnerId !== campaign.winnerVariantId;
		const said = decisionSummary(statistical.status, statisticalKey);
		return {
			status: 'winner',
			winnerVariantId: campaign.winnerVariantId,
			winnerVariantKey: key,
			summary: forced ? `completed: ${key} promoted by hand (the statistics said: ${said})` : `completed: ${key} promoted`,
			reasons: forced ? [`${key} was promoted by hand (forced) over the statistics' decision: ${said}`, ...statistical.reasons] : statistical.reasons,
			final: true,
			forced,
		};
	}
	return {
		status: statistical.status === 'keep_running' ? 'inconclusive' : statistical.status,
		winnerVariantId: statisticalWinnerId,
		winnerVariantKey: statisticalKey,
		summary: completedSummary(statistical.status, statisticalKey),
		reasons: statistical.reasons,
		final: true,
		forced: false,
	};
}

function buildResults(campaign: Campaign, analysis: CampaignAnalysis, expectedSplit: number[], totals: ExecutionTotals[]): CampaignResults {
	const primary = analysis.primaryMetric;
	const variants = analysis.variants.map((a, i): VariantResult => {
		const v = campaign.variants[i];
		const cmp = a.metrics[primary].vsControl;
		return {
			id: v.id,
			key: v.key,
			isControl: v.isControl,
			templateId: v.templateId,
			templateName: v.templateName,
			version: v.version,
			versionId: v.versionId,
			label: v.label,
			weight: v.weight,
			units: a.units,
			expectedUnitShare: expectedSplit[i],
			observedUnitShare: a.observedUnitShare,
			executions: totals[i].executions,
			finishedExecutions: a.metrics.success_rate.sampleSize,
			succeeded: totals[i].succeeded,
			failed: totals[i].failed,
			successRate: { value: a.metrics.success_rate.value, ci: a.metrics.success_rate.ci },
			ratedUnits: a.ratedUnits,
			ratedShare: a.ratedRate,
			meanRating: { value: a.metrics.mean_rating.value, ci: a.metrics.mean_rating.ci },
			goodRatingShare: { value: a.metrics.good_rating_share.value, ci: a.metrics.good_rating_share.ci },
			meanDurationMs: a.meanDurationMs,
			ratings: { count: a.perRating.count, mean: a.perRating.meanRating, goodShare: a.perRating.goodShare },
			meetsMinimumSample: a.meetsMinimumSample,
			vsControl: cmp
				? {
						metric: primary,
						difference: cmp.difference,
						differenceCi: cmp.differenceCi,
						relativeLift: cmp.relativeLift,
						chanceToBeatControl: cmp.chanceToBeatControl,
						expectedLoss: cmp.expectedLoss,
						pValue: cmp.pValue,
						adjustedPValue: cmp.adjustedPValue,
					}
				: null,
		};
	});
	const { variants: _variants, ...summary } = campaign;
	return {
		campaign: summary,
		primaryMetric: primary,
		variants,
		srm: analysis.srm,
		ratedUnitsSrm: analysis.ratedUnitsSrm,
		decision: campaignDecision(campaign, analysis),
		expectedSplit,
		analysis,
		computedAt: new Date().toISOString(),
	};
}

/** The results of a loaded campaign (promotion calls this inside its transaction). */
export async function resultsFor(db: Queryable, campaign: Campaign, options: ResultsOptions = {}): Promise<CampaignResults> {
	const { inputs, expectedSplit, totals } = await campaignAnalysisInputs(db, campaign);
	const analysis = analyseCampaign({
		variants: inputs,
		primaryMetric: campaign.primaryMetric,
		minSamplePerVariant: campaign.minSamplePerVariant,
		srmWeights: expectedSplit,
		...options,
	});
	return buildResults(campaign, analysis, expectedSplit, totals);
}

export const campaignResultsInput = defineInput(z.object({ campaign: campaignRef }));
export type CampaignResultsInput = z.input<typeof campaignResultsInput.schema>;

export async function getCampaignResults(db: Queryable, input: CampaignResultsInput, options: ResultsOptions = {}): Promise<CampaignResults> {
	const { campaign: ref } = campaignResultsInput.parse(input);
	return resultsFor(db, await loadCampaign(db, ref), options);
}
