/** Get and Get Many: a campaign by reference, and pages of campaigns by status and search text. */
import { z } from 'zod';

import {
	CAMPAIGN_SORT_FIELDS,
	CAMPAIGN_STATUSES,
	findCampaign,
	queryCampaigns,
	type Campaign,
	type CampaignPage,
	type CampaignRef,
	type CampaignSortField,
	type CampaignStatus,
	type SortOrder,
} from '../db/campaigns';
import type { Queryable } from '../db/pool';
import { NotFoundError } from '../errors';
import { defineInput } from '../validation';
import { campaignRef, trimmedText } from './schemas';

function describeRef(ref: CampaignRef): string {
	return 'id' in ref ? `with ID ${ref.id}` : `"${ref.name}"`;
}

export function campaignNotFound(ref: CampaignRef): NotFoundError {
	return new NotFoundError('campaign_not_found', `Campaign ${describeRef(ref)} not found`, {
		field: 'campaign',
		hint: 'Pick the campaign from the list, or check its name or ID',
		details: 'id' in ref ? { campaignId: ref.id } : { campaignName: ref.name },
	});
}

/** The campaign a validated reference names, or campaign_not_found (field `campaign`). */
export async function loadCampaign(db: Queryable, ref: CampaignRef, options: { forUpdate?: boolean } = {}): Promise<Campaign> {
	const campaign = await findCampaign(db, ref, options);
	if (!campaign) throw campaignNotFound(ref);
	return campaign;
}

export const getCampaignInput = defineInput(z.object({ campaign: campaignRef }));
export type GetCampaignInput = z.input<typeof getCampaignInput.schema>;

export async function getCampaign(db: Queryable, input: GetCampaignInput): Promise<Campaign> {
	const { campaign } = getCampaignInput.parse(input);
	return loadCampaign(db, campaign);
}

/** The most campaigns one page may hold. */
const LIST_LIMIT_MAX = 10_000;

export const listCampaignsInput = defineInput(
	z.object({
		status: z
			.enum(CAMPAIGN_STATUSES, { errorMap: () => ({ message: `The status must be one of ${CAMPAIGN_STATUSES.join(', ')}` }) })
			.optional(),
		search: trimmedText({ max: 200, label: 'The search text' }).optional(),
		sortBy: z
			.enum(CAMPAIGN_SORT_FIELDS, { errorMap: () => ({ message: `Sort by must be one of ${CAMPAIGN_SORT_FIELDS.join(', ')}` }) })
			.default('createdAt'),
		sortOrder: z.enum(['asc', 'desc'], { errorMap: () => ({ message: 'The sort order must be asc or desc' }) }).default('desc'),
		limit: z
			.number({ invalid_type_error: 'The limit must be a number' })
			.int('The limit must be a whole number')
			.min(1, 'The limit must be at least 1')
			.max(LIST_LIMIT_MAX, `The limit must be at most ${LIST_LIMIT_MAX}`)
			.default(50),
		offset: z
			.number({ invalid_type_error: 'The offset must be a number' })
			.int('The offset must be a whole number')
			.min(0, 'The offset must be 0 or more')
			.default(0),
	}),
);
export interface ListCampaignsInput {
	status?: CampaignStatus;
	search?: string;
	sortBy?: CampaignSortField;
	sortOrder?: SortOrder;
	limit?: number;
	offset?: number;
}

/** One page, newest first unless sorted otherwise; `nextOffset` is null on the last page. */
export async function listCampaigns(db: Queryable, input: ListCampaignsInput = {}): Promise<CampaignPage> {
	const query = listCampaignsInput.parse(input);
	return queryCampaigns(db, { ...query, search: query.search || undefined });
}
