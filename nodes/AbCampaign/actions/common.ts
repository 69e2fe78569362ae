import type { IDataObject, IExecuteFunctions, INodeParameterResourceLocator, INodeProperties } from 'n8n-workflow';

import type { Campaign, CampaignRef } from '../../../lib/db/campaigns';
import { PromptLabError } from '../../../lib/db/errors';

/** Display names of parameters, used by error messages to name the field to fix. */
export const FIELD_LABELS: Record<string, string> = {
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
	limit: 'Limit',
	search: 'Search',
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

/** Reads the campaign resource locator of item i as a repository reference. */
export function readCampaignRef(ctx: IExecuteFunctions, itemIndex: number): CampaignRef {
	const rl = ctx.getNodeParameter('campaign', itemIndex) as INodeParameterResourceLocator | string;
	const mode = typeof rl === 'string' ? 'name' : rl.mode;
	const value = String(typeof rl === 'string' ? rl : rl.value ?? '').trim();
	if (!value) throw new PromptLabError('No campaign selected: pick one from the list, or give its name or ID', 'campaign');
	return mode === 'id' || mode === 'list' ? { id: value } : { name: value };
}

export function campaignToJson(campaign: Campaign): IDataObject {
	return { ...campaign } as unknown as IDataObject;
}
