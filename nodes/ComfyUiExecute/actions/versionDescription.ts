import { NodeConnectionTypes, type INodeTypeDescription } from 'n8n-workflow';

import * as comfyui from './comfyui/ComfyUi.resource';

export const versionDescription: INodeTypeDescription = {
	displayName: 'ComfyUI Execute',
	name: 'comfyUiExecute',
	icon: { light: 'file:comfyUiExecute.svg', dark: 'file:comfyUiExecute.dark.svg' },
	group: ['transform'],
	version: 1,
	subtitle: '={{ $parameter["operation"] }}',
	description: 'Run prompt templates and workflows on one or several ComfyUI servers; images and videos come back as binary data',
	defaults: { name: 'ComfyUI Execute' },
	usableAsTool: true,
	inputs: [NodeConnectionTypes.Main],
	outputs: [NodeConnectionTypes.Main],
	credentials: [
		{ name: 'comfyUiApi', required: true, testedBy: 'comfyUiApiConnectionTest' },
		{ name: 'promptLabPostgres', required: false, testedBy: 'promptLabPostgresConnectionTest' },
	],
	properties: [
		{
			// One resource, hidden (like n8n's Postgres v2): the operations are all about ComfyUI jobs.
			displayName: 'Resource',
			name: 'resource',
			type: 'hidden',
			noDataExpression: true,
			default: 'comfyui',
		},
		{
			displayName:
				'Add a PromptLab Postgres credential to record every execution and its files (for feedback, A/B results and statistics); "From Template" needs it',
			name: 'recordingNotice',
			type: 'notice',
			default: '',
			displayOptions: { show: { operation: ['generate'] } },
		},
		...comfyui.description,
	],
};
