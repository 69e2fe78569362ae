import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { pauseCampaign } from '../../../../lib/campaigns';
import { campaignRLC, campaignToJson, readCampaignRef } from '../common';

const properties: INodeProperties[] = [campaignRLC];

export const description = updateDisplayOptions({ show: { operation: ['pause'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	return campaignToJson(await pauseCampaign(pool, { campaign: readCampaignRef(this, i) }));
}
