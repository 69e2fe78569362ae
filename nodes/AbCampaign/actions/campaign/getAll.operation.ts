import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import {
	listCampaigns,
	type CampaignSortField,
	type CampaignStatus,
	type ListCampaignsInput,
	type SortOrder,
} from '../../../../lib/campaigns';
import { campaignToJson } from '../common';
import { returnAllOrLimitFields, sortCollection } from '../../../shared/descriptions';

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
	sortCollection(
		{
			displayName: 'Sort By',
			name: 'sortBy',
			type: 'options',
			options: [
				{ name: 'Created At', value: 'createdAt' },
				{ name: 'Name', value: 'name' },
				{ name: 'Started At', value: 'startedAt' },
				{ name: 'Status', value: 'status' },
				{ name: 'Updated At', value: 'updatedAt' },
			],
			default: 'createdAt',
		},
		'desc',
	),

];

export const description = updateDisplayOptions({ show: { operation: ['getAll'] } }, properties);

/** Page size while returning all campaigns. */
const PAGE = 500;

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const filters = this.getNodeParameter('filters', i, {}) as { status?: CampaignStatus | ''; search?: string };
	const sort = this.getNodeParameter('sort', i, {}) as { sortBy?: CampaignSortField; sortOrder?: SortOrder };
	const query: ListCampaignsInput = {
		status: filters.status || undefined,
		search: filters.search,
		sortBy: sort.sortBy,
		sortOrder: sort.sortOrder,
		limit: returnAll ? PAGE : (this.getNodeParameter('limit', i, 50) as number),
	};
	const items = [];
	let offset: number | null = 0;
	while (offset !== null) {
		const page = await listCampaigns(pool, { ...query, offset });
		items.push(...page.items.map(campaignToJson));
		offset = returnAll ? page.nextOffset : null;
	}
	return items;
}
