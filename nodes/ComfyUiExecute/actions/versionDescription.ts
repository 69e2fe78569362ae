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
			// A visible resource (even with one option) is what lets n8n's node panel list the actions
			// of an installed community node; with a hidden one it only offers "Add to workflow".
			displayName: 'Resource',
			name: 'resource',
			type: 'options',
			noDataExpression: true,
			options: [{ name: 'Job', value: 'comfyui' }],
			default: 'comfyui',
		},
		{
			// n8n shows a notice whatever credentials are selected (its displayOptions cannot see
			// them), so the sentence has to be true with and without the credential.
			displayName:
				'With a PromptLab Postgres credential, every execution and its files are recorded (for feedback, A/B results and statistics); "From Template" needs one',
			name: 'recordingNotice',
			type: 'notice',
			default: '',
			displayOptions: { show: { operation: ['generate'] } },
		},
		...comfyui.description,
	],
};
