import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getCampaignResults } from '../../../../lib/campaigns';
import { campaignRLC, readCampaignRef } from '../common';

const properties: INodeProperties[] = [
	campaignRLC,
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Include Full Analysis',
				name: 'includeAnalysis',
				type: 'boolean',
				default: false,
				description: 'Whether to add the complete statistics (every metric against the control) under "analysis"',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['results'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const options = this.getNodeParameter('options', i, {}) as { includeAnalysis?: boolean };
	const { analysis, ...results } = await getCampaignResults(pool, { campaign: readCampaignRef(this, i) });
	return JSON.parse(JSON.stringify(options.includeAnalysis ? { ...results, analysis } : results));
}
