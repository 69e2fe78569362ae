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
			// A visible resource (even with one option) is what lets n8n's node panel list the actions
			// of an installed community node; with a hidden one it only offers "Add to workflow".
			displayName: 'Resource',
			name: 'resource',
			type: 'options',
			noDataExpression: true,
			options: [{ name: 'Recommendation', value: 'recommendation' }],
			default: 'recommendation',
		},
		...recommendation.description,
	],
};
