import { NodeConnectionTypes, type INodeTypeDescription } from 'n8n-workflow';

import * as campaign from './campaign/Campaign.resource';

export const versionDescription: INodeTypeDescription = {
	displayName: 'A/B Campaign',
	name: 'abCampaign',
	icon: { light: 'file:abCampaign.svg', dark: 'file:abCampaign.dark.svg' },
	group: ['transform'],
	version: 1,
	subtitle: '={{ $parameter["operation"] + ": campaign" }}',
	description: 'A/B tests of prompt template versions: sticky assignment, Thompson sampling, results with SRM check, promotion of the winner',
	defaults: { name: 'A/B Campaign' },
	usableAsTool: true,
	inputs: [NodeConnectionTypes.Main],
	outputs: [NodeConnectionTypes.Main],
	credentials: [{ name: 'promptLabPostgres', required: true, testedBy: 'promptLabPostgresConnectionTest' }],
	properties: [
		{
			// one resource today; kept as a hidden parameter so more can be added without breaking workflows
			displayName: 'Resource',
			name: 'resource',
			type: 'hidden',
			noDataExpression: true,
			default: 'campaign',
		},
		...campaign.description,
	],
};
