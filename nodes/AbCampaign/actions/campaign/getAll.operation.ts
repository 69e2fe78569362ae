import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';
import { z } from 'zod';

import { CAMPAIGN_STATUSES, listCampaigns, type CampaignStatus } from '../../../../lib/db/campaigns';
import { campaignToJson } from '../common';
import { returnAllOrLimitFields } from '../../../shared/descriptions';

const properties: INodeProperties[] = [
	...returnAllOrLimitFields,
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		options: [
			{
				displayName: 'Search',
				name: 'search',
				type: 'string',
				default: '',
				description: 'Text to find in the name or description',
			},
			{
				displayName: 'Status',
				name: 'status',
				type: 'options',
				options: [
					{ name: 'Completed', value: 'completed' },
					{ name: 'Draft', value: 'draft' },
					{ name: 'Paused', value: 'paused' },
					{ name: 'Running', value: 'running' },
				],
				default: 'running',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['getAll'] } }, properties);

const statuses = CAMPAIGN_STATUSES as [CampaignStatus, ...CampaignStatus[]];
const parameters = z.object({
	limit: z.number().int().min(1).max(10_000),
	status: z.enum(statuses, { errorMap: () => ({ message: `must be one of ${statuses.join(', ')}` }) }).optional(),
	search: z.string().max(200).optional(),
});

const PAGE = 500;

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const filters = this.getNodeParameter('filters', i, {}) as Record<string, unknown>;
	const p = parameters.parse({
		limit: returnAll ? PAGE : this.getNodeParameter('limit', i, 50),
		status: (filters.status as string) || undefined,
		search: (filters.search as string) || undefined,
	});
	const items = [];
	let offset: number | null = 0;
	while (offset !== null) {
		const page = await listCampaigns(pool, { ...p, offset });
		items.push(...page.items.map(campaignToJson));
		offset = returnAll ? page.nextOffset : null;
	}
	return items;
}
