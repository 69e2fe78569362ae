import { NodeConnectionTypes, type INodeTypeDescription } from 'n8n-workflow';

import * as recommendation from './recommendation/Recommendation.resource';

export const versionDescription: INodeTypeDescription = {
	displayName: 'Recommend',
	name: 'recommend',
	icon: { light: 'file:recommend.svg', dark: 'file:recommend.dark.svg' },
	group: ['transform'],
	version: 1,
	subtitle: '={{ $parameter["operation"] }}',
	description: 'Template recommendations from ratings: personalised for a user, popular, or similar to a template',
	defaults: { name: 'Recommend' },
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
			default: 'recommendation',
		},
		...recommendation.description,
	],
};
