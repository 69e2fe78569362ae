/**
 * Promote: move the winning template's label (production) to the winning version, record the
 * winner and complete the campaign. The label moves through setLabel, so it is recorded in the
 * label history like any other move.
 */
import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';

import { recordWinner, type Campaign, type CampaignVariant } from '../db/campaigns';
import { withTransaction } from '../db/pool';
import { LABEL_PATTERN, setLabel } from '../db/templates';
import { ConflictError, NotFoundError } from '../errors';
import { defineInput, issueCode } from '../validation';
import { loadCampaign } from './query';
import { campaignDecision, resultsFor, type CampaignDecisionResult, type CampaignResults, type ResultsOptions } from './results';
import { campaignRef, trimmedText } from './schemas';

export const promoteCampaignInput = defineInput(
	z.object({
		campaign: campaignRef,
		/** Human override: promote this variant key (case-insensitive) whatever the decision says. */
		forceVariant: trimmedText({ max: 40, label: 'The forced variant key' }).optional(),
		/** Label to move (default production). */
		label: trimmedText({ max: 63, label: 'The label' })
			.transform((label) => label || 'production')
			.refine((label) => LABEL_PATTERN.test(label), {
				message: 'The label is invalid: use lowercase letters, digits, ".", "_" or "-" (e.g. production)',
				...issueCode('invalid_input'),
			})
			.default('production'),
		/** Who promoted (kept in the label history). */
		movedBy: trimmedText({ max: 200, label: 'Moved by' }).nullish(),
	}),
);
export type PromoteCampaignInput = z.input<typeof promoteCampaignInput.schema>;

export interface Promotion {
	campaign: Campaign;
	winner: CampaignVariant;
	forced: boolean;
	/** The campaign's final decision (final: true), as its results show it from now on. */
	decision: CampaignDecisionResult;
	labelMove: { templateId: string; templateName: string; label: string; fromVersion: number | null; toVersion: number; labels: Record<string, number> };
}

/**
 * A draft has not run and a promoted campaign is over: both are campaign_not_running, the code
 * assigning on a draft gives too. A campaign completed without a winner may still be promoted.
 */
function refuseUnlessPromotable(campaign: Campaign): void {
	if (campaign.winnerVariantId) {
		throw new ConflictError('campaign_not_running', `Campaign "${campaign.name}" was already promoted (winner: ${campaign.winnerVariantKey})`, {
			field: 'campaign',
			details: { status: campaign.status, winnerVariantKey: campaign.winnerVariantKey },
		});
	}
	if (campaign.status === 'draft') {
		throw new ConflictError('campaign_not_running', `Campaign "${campaign.name}" is a draft and has no results to promote`, {
			field: 'campaign',
			hint: 'Start the campaign and let it collect results first',
			details: { status: campaign.status },
		});
	}
}

/** The variant to promote: the forced one, or the decision's winner (campaign_no_winner without one). */
function chooseWinner(campaign: Campaign, results: CampaignResults, forceKey: string | undefined): CampaignVariant {
	if (forceKey) {
		const forced = campaign.variants.find((v) => v.key.toLowerCase() === forceKey.toLowerCase());
		if (!forced) {
			const keys = campaign.variants.map((v) => v.key);
			throw new NotFoundError('variant_not_found', `Campaign "${campaign.name}" has no variant "${forceKey}" (variants: ${keys.join(', ')})`, {
				field: 'forceVariant',
				details: { variants: keys },
			});
		}
		return forced;
	}
	const { decision } = results;
	if (decision.status !== 'winner') {
		throw new ConflictError(
			'campaign_no_winner',
			`Campaign "${campaign.name}" has no winner to promote (decision: ${decision.summary}; ${decision.reasons[0] ?? ''})`,
			{
				field: 'forceVariant',
				hint: 'Keep the campaign running, or force a variant to promote one by hand',
				details: { decision: decision.status },
			},
		);
	}
	return campaign.variants.find((v) => v.id === decision.winnerVariantId) as CampaignVariant;
}

/**
 * Refuses unless the decision names a winner, except with a forced variant key (a human
 * override). The campaign row stays locked until the label has moved, so two concurrent
 * promotions cannot both succeed.
 */
export async function promoteCampaign(pool: Pool, input: PromoteCampaignInput, options: { results?: ResultsOptions } = {}): Promise<Promotion> {
	const { campaign: ref, forceVariant, label, movedBy } = promoteCampaignInput.parse(input);
	const forceKey = forceVariant || undefined;
	return withTransaction(pool, async (client: PoolClient) => {
		const campaign = await loadCampaign(client, ref, { forUpdate: true });
		refuseUnlessPromotable(campaign);
		const results = await resultsFor(client, campaign, options.results ?? {});
		const winner = chooseWinner(campaign, results, forceKey);
		// setLabel runs its own transaction on the pool (a second connection): a later issue moves it into this one.
		const move = await setLabel(pool, { id: winner.templateId }, label, winner.version, {
			movedBy: movedBy || null,
			reason: `campaign ${campaign.name} winner${forceKey ? ' (forced)' : ''}`,
		});
		await recordWinner(client, campaign.id, winner.id);
		const completed = await loadCampaign(client, { id: campaign.id });
		return {
			campaign: completed,
			winner,
			forced: Boolean(forceKey),
			// the campaign's aggregates are frozen from here on, so this is what its results say from now on
			decision: campaignDecision(completed, results.analysis),
			labelMove: {
				templateId: move.template.id,
				templateName: move.template.name,
				label: move.label,
				fromVersion: move.fromVersion,
				toVersion: move.toVersion,
				labels: move.template.labels,
			},
		};
	});
}
