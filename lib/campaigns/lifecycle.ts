/**
 * Start, pause and complete. Each locks the campaign row, so two concurrent requests see each
 * other's result; repeating an action is harmless (the campaign is returned as it is).
 */
import type { Pool } from 'pg';
import { z } from 'zod';

import { updateCampaignStatus, type Campaign, type CampaignStatus } from '../db/campaigns';
import { withTransaction } from '../db/pool';
import { ConflictError } from '../errors';
import { defineInput } from '../validation';
import { loadCampaign } from './query';
import { campaignRef } from './schemas';

export type CampaignAction = 'start' | 'pause' | 'complete';

const TRANSITIONS: Readonly<Record<CampaignAction, { from: readonly CampaignStatus[]; to: CampaignStatus }>> = {
	start: { from: ['draft', 'paused'], to: 'running' },
	pause: { from: ['running'], to: 'paused' },
	complete: { from: ['draft', 'running', 'paused'], to: 'completed' },
};

const PAST: Record<CampaignAction, string> = { start: 'started', pause: 'paused', complete: 'completed' };

export const campaignActionInput = defineInput(z.object({ campaign: campaignRef }));
export type CampaignActionInput = z.input<typeof campaignActionInput.schema>;

function refused(campaign: Campaign, action: CampaignAction): ConflictError {
	const rule = TRANSITIONS[action];
	const completed = campaign.status === 'completed';
	return new ConflictError(
		'campaign_state_invalid',
		completed
			? `Campaign "${campaign.name}" is completed and cannot be ${action === 'start' ? 'restarted' : 'paused'}`
			: `Campaign "${campaign.name}" is ${campaign.status}; only a ${rule.from.join(' or ')} campaign can be ${PAST[action]}`,
		{
			field: 'campaign',
			hint: completed ? 'Create a new campaign instead' : undefined,
			details: { status: campaign.status, allowedFrom: [...rule.from] },
		},
	);
}

async function transition(pool: Pool, input: CampaignActionInput, action: CampaignAction): Promise<Campaign> {
	const { campaign: ref } = campaignActionInput.parse(input);
	const rule = TRANSITIONS[action];
	return withTransaction(pool, async (client) => {
		const campaign = await loadCampaign(client, ref, { forUpdate: true });
		if (campaign.status === rule.to) return campaign;
		if (!rule.from.includes(campaign.status)) throw refused(campaign, action);
		await updateCampaignStatus(client, campaign.id, rule.to);
		return loadCampaign(client, { id: campaign.id });
	});
}

export const startCampaign = (pool: Pool, input: CampaignActionInput): Promise<Campaign> => transition(pool, input, 'start');
export const pauseCampaign = (pool: Pool, input: CampaignActionInput): Promise<Campaign> => transition(pool, input, 'pause');
export const completeCampaign = (pool: Pool, input: CampaignActionInput): Promise<Campaign> => transition(pool, input, 'complete');
