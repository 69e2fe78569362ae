import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { assignUnit } from '../../../../lib/campaigns';
import { campaignRLC, readCampaignRef } from '../common';

const properties: INodeProperties[] = [
	campaignRLC,
	{
		displayName: 'Unit ID',
		name: 'unitId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. {{ $json.userId }}',
		description:
			'Who is being assigned: a user or client ID. The same ID always gets the same variant; pass the same ID as the user of the execution so its feedback counts for that variant.',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['assign'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const assignment = await assignUnit(pool, {
		campaign: readCampaignRef(this, i),
		unitId: this.getNodeParameter('unitId', i) as string | number,
	});
	return { ...assignment };
}
