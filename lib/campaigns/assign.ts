/**
 * Assign: the variant of a unit (a user or client ID).
 *
 * Assignment is deterministic (lib/stats assignVariant: GrowthBook FNV-1a of seed + unit id onto
 * the weights) and persisted on first sight with INSERT … ON CONFLICT DO NOTHING, then read back,
 * so concurrent workers always agree and later weight changes never move a unit.
 */
import type { Pool } from 'pg';
import { z } from 'zod';

import { findAssignmentContext, insertAssignment, type Campaign, type CampaignStatus, type CampaignVariant } from '../db/campaigns';
import { ConflictError } from '../errors';
import { assignVariant } from '../stats';
import { defineInput } from '../validation';
import { currentAllocation, THOMPSON_REFRESH_MS } from './allocation';
import { campaignNotFound } from './query';
import { campaignRef, requiredText } from './schemas';

export interface Assignment {
	campaignId: string;
	campaignName: string;
	campaignStatus: CampaignStatus;
	unitId: string;
	variantId: string;
	variantKey: string;
	templateId: string;
	templateName: string;
	version: number;
	versionId: string;
	label: string | null;
	isControl: boolean;
	/** The unit was assigned by this call (false: an earlier assignment, or not persisted). */
	isNew: boolean;
	/** Whether the assignment is stored (false for paused/completed campaigns). */
	persisted: boolean;
	/** 'hash': split by weights; 'control'/'winner': the campaign is not running. */
	assignedBy: 'hash' | 'control' | 'winner';
}

export interface AssignOptions {
	/** Age after which a Thompson campaign recomputes its split (default THOMPSON_REFRESH_MS). */
	thompsonRefreshMs?: number;
}

/** A unit ID as a number (from an expression over numeric user IDs) is taken as its decimal text. */
const unitId = z.preprocess(
	(value) => (typeof value === 'number' && Number.isFinite(value) ? String(value) : value),
	requiredText({ max: 500, label: 'The unit ID (user or client ID)' }),
);

export const assignUnitInput = defineInput(z.object({ campaign: campaignRef, unitId }));
export interface AssignUnitInput {
	campaign: z.input<typeof campaignRef>;
	/** The user or client ID; the same ID always gets the same variant. */
	unitId: string | number;
}

function assignmentOf(
	campaign: Campaign,
	unit: string,
	variant: CampaignVariant,
	how: Pick<Assignment, 'isNew' | 'persisted' | 'assignedBy'>,
): Assignment {
	return {
		campaignId: campaign.id,
		campaignName: campaign.name,
		campaignStatus: campaign.status,
		unitId: unit,
		variantId: variant.id,
		variantKey: variant.key,
		templateId: variant.templateId,
		templateName: variant.templateName,
		version: variant.version,
		versionId: variant.versionId,
		label: variant.label,
		isControl: variant.isControl,
		...how,
	};
}

/**
 * The variant for a unit. Running campaigns hash the unit onto the weights and persist the first
 * assignment (sticky, race-free); paused or completed campaigns answer with the winner (once
 * promoted) or the control without storing anything; a draft campaign is campaign_not_running.
 */
export async function assignUnit(pool: Pool, input: AssignUnitInput, options: AssignOptions = {}): Promise<Assignment> {
	const { campaign: ref, unitId: unit } = assignUnitInput.parse(input);
	const context = await findAssignmentContext(pool, ref, unit);
	if (!context) throw campaignNotFound(ref);
	const { campaign, assignedVariantId, latestWeights } = context;
	if (campaign.status === 'draft') {
		throw new ConflictError('campaign_not_running', `Campaign "${campaign.name}" is a draft: start it first`, {
			field: 'campaign',
			hint: 'Start the campaign (operation Start), then assign units',
			details: { campaignId: campaign.id, status: campaign.status },
		});
	}
	const control = campaign.variants.find((v) => v.isControl) as CampaignVariant;
	if (campaign.status !== 'running') {
		const winner = campaign.variants.find((v) => v.id === campaign.winnerVariantId);
		return assignmentOf(campaign, unit, winner ?? control, { isNew: false, persisted: false, assignedBy: winner ? 'winner' : 'control' });
	}
	const byId = (id: string) => campaign.variants.find((v) => v.id === id) as CampaignVariant;
	if (assignedVariantId) return assignmentOf(campaign, unit, byId(assignedVariantId), { isNew: false, persisted: true, assignedBy: 'hash' });

	let weights = campaign.variants.map((v) => v.weight);
	let weightsId: string | null = null;
	if (campaign.mode === 'thompson') {
		const current = await currentAllocation(pool, campaign, latestWeights, options.thompsonRefreshMs ?? THOMPSON_REFRESH_MS);
		weights = current.weights;
		weightsId = current.id;
	}
	const proposed = campaign.variants[assignVariant(campaign.seed, unit, weights)];
	const stored = await insertAssignment(pool, { campaignId: campaign.id, unitId: unit, variantId: proposed.id, weightsId });
	return assignmentOf(campaign, unit, byId(stored.variantId), { isNew: stored.inserted, persisted: true, assignedBy: 'hash' });
}
