/**
 * The weekly report's campaign section: the campaigns running now and those completed within the
 * report's window, each with the decision its A/B results show (lib/campaigns campaignDecision:
 * the final decision and winner once completed), so the report and the results never disagree.
 */
import { loadCampaign } from '../campaigns/query';
import { resultsFor, type CampaignDecisionResult } from '../campaigns/results';
import type { Queryable } from '../db/pool';
import { campaignRows, type CampaignRow } from '../db/reports';

export interface ReportCampaign extends CampaignRow {
	decision: Pick<CampaignDecisionResult, 'status' | 'winnerVariantKey' | 'summary' | 'final' | 'forced'>;
}

/** A running campaign of the report (the name the weekly report's output has always used). */
export type RunningCampaign = ReportCampaign;

async function withDecisions(db: Queryable, rows: CampaignRow[]): Promise<ReportCampaign[]> {
	const campaigns: ReportCampaign[] = [];
	// One after the other: `db` may be a single client, and a report lists a handful of campaigns.
	for (const row of rows) {
		const { decision } = await resultsFor(db, await loadCampaign(db, { id: row.id }));
		campaigns.push({
			...row,
			decision: { status: decision.status, winnerVariantKey: decision.winnerVariantKey, summary: decision.summary, final: decision.final, forced: decision.forced },
		});
	}
	return campaigns;
}

/** Running campaigns with their units per variant and their decision so far. */
export async function runningCampaigns(db: Queryable): Promise<ReportCampaign[]> {
	return withDecisions(db, await campaignRows(db, { running: true }));
}

/** Campaigns completed within [from, to) with their final decision and winner. */
export async function completedCampaigns(db: Queryable, window: { from: Date; to: Date }): Promise<ReportCampaign[]> {
	return withDecisions(db, await campaignRows(db, { completedFrom: window.from, completedTo: window.to }));
}
