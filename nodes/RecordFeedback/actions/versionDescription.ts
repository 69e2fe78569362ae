import { NodeConnectionTypes, type INodeTypeDescription } from 'n8n-workflow';

import * as execution from './execution/Execution.resource';
import * as feedback from './feedback/Feedback.resource';

export const versionDescription: INodeTypeDescription = {
	displayName: 'Record Feedback',
	name: 'recordFeedback',
	icon: { light: 'file:recordFeedback.svg', dark: 'file:recordFeedback.dark.svg' },
	group: ['transform'],
	version: 1,
	subtitle: '={{ $parameter["operation"] + ": " + $parameter["resource"] }}',
	description: 'Record 1–5 ratings of generations, log text/LLM executions to rate, and read template rating stats',
	defaults: { name: 'Record Feedback' },
	usableAsTool: true,
	inputs: [NodeConnectionTypes.Main],
	outputs: [NodeConnectionTypes.Main],
	credentials: [{ name: 'promptLabPostgres', required: true, testedBy: 'promptLabPostgresConnectionTest' }],
	properties: [
		{
			displayName: 'Resource',
			name: 'resource',
			type: 'options',
			noDataExpression: true,
			options: [
				{ name: 'Execution', value: 'execution' },
				{ name: 'Feedback', value: 'feedback' },
			],
			default: 'feedback',
		},
		...feedback.description,
		...execution.description,
	],
};
