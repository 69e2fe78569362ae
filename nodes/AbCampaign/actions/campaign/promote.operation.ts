import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { promoteCampaign } from '../../../../lib/campaigns';
import { campaignRLC, campaignToJson, readCampaignRef } from '../common';

const properties: INodeProperties[] = [
	campaignRLC,
	{
		displayName: 'Force Variant',
		name: 'forceVariant',
		type: 'string',
		default: '',
		placeholder: 'e.g. B',
		description:
			'Leave empty to promote only when the results name a winner. A variant key here is a human override: that variant is promoted whatever the statistics say.',
	},
	{
		displayName: 'Label',
		name: 'label',
		type: 'string',
		default: 'production',
		description: "Label of the winning template to move to the winning version (recorded in the template's label history)",
	},
	{
		displayName: 'Moved By',
		name: 'movedBy',
		type: 'string',
		default: '',
		description: 'Who promoted the winner (kept in the label history)',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['promote'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const promotion = await promoteCampaign(pool, {
		campaign: readCampaignRef(this, i),
		forceVariant: this.getNodeParameter('forceVariant', i, '') as string,
		label: this.getNodeParameter('label', i, 'production') as string,
		movedBy: this.getNodeParameter('movedBy', i, '') as string,
	});
	return JSON.parse(JSON.stringify({ ...promotion, campaign: campaignToJson(promotion.campaign) }));
}
