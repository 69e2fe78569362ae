import type { IDataObject, IExecuteFunctions, INodeParameterResourceLocator, INodeProperties } from 'n8n-workflow';

import type { Campaign, CampaignRef } from '../../../lib/campaigns';
import type { FieldLabels } from '../../shared/errors';

/** Display names of parameters by input-schema field, so an error says which field to fix. */
export const FIELD_LABELS: FieldLabels = {
	campaign: 'Campaign',
	name: 'Name',
	description: 'Description',
	variants: 'Variants',
	primaryMetric: 'Primary Metric',
	minSamplePerVariant: 'Minimum Sample per Variant',
	mode: 'Mode',
	thompsonFloor: 'Thompson Floor',
	seed: 'Seed',
	unitId: 'Unit ID',
	forceVariant: 'Force Variant',
	label: 'Label',
	movedBy: 'Moved By',
	status: 'Status',
	search: 'Search',
	sortBy: 'Sort By',
	sortOrder: 'Order',
	limit: 'Limit',
};

const UUID_REGEX = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** Campaign picker: searchable list, by name, or by ID. */
export const campaignRLC: INodeProperties = {
	displayName: 'Campaign',
	name: 'campaign',
	type: 'resourceLocator',
	default: { mode: 'list', value: '' },
	required: true,
	modes: [
		{
			displayName: 'From List',
			name: 'list',
			type: 'list',
			typeOptions: { searchListMethod: 'searchCampaigns', searchable: true },
		},
		{
			displayName: 'By Name',
			name: 'name',
			type: 'string',
			placeholder: 'e.g. hero-lighting-test',
		},
		{
			displayName: 'By ID',
			name: 'id',
			type: 'string',
			placeholder: 'e.g. 2f1c0b7e-4a8d-4e57-9a1e-0c9b0f4f3d21',
			validation: [
				{
					type: 'regex',
					properties: { regex: `^${UUID_REGEX}$`, errorMessage: 'Not a campaign ID (a UUID)' },
				},
			],
		},
	],
};

/** The campaign resource locator of item i as the use cases' `campaign` input (they validate it). */
export function readCampaignRef(ctx: IExecuteFunctions, itemIndex: number): CampaignRef {
	const rl = ctx.getNodeParameter('campaign', itemIndex) as INodeParameterResourceLocator | string;
	const mode = typeof rl === 'string' ? 'name' : rl.mode;
	const value = String(typeof rl === 'string' ? rl : (rl.value ?? ''));
	return mode === 'id' || mode === 'list' ? { id: value } : { name: value };
}

export function campaignToJson(campaign: Campaign): IDataObject {
	return { ...campaign } as unknown as IDataObject;
}
