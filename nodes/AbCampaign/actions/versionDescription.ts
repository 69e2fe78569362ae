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
			// A visible resource (even with one option) is what lets n8n's node panel list the actions
			// of an installed community node; with a hidden one it only offers "Add to workflow".
			displayName: 'Resource',
			name: 'resource',
			type: 'options',
			noDataExpression: true,
			options: [{ name: 'Campaign', value: 'campaign' }],
			default: 'campaign',
		},
		...campaign.description,
	],
};
