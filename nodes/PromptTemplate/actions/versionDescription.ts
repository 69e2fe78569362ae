import { NodeConnectionTypes, type INodeTypeDescription } from 'n8n-workflow';

import * as label from './label/Label.resource';
import * as report from './report/Report.resource';
import * as template from './template/Template.resource';
import * as version from './version/Version.resource';

export const versionDescription: INodeTypeDescription = {
	displayName: 'Prompt Template',
	name: 'promptTemplate',
	icon: { light: 'file:promptTemplate.svg', dark: 'file:promptTemplate.dark.svg' },
	group: ['transform'],
	version: 1,
	subtitle: '={{ $parameter["operation"] + ": " + $parameter["resource"] }}',
	description: 'Versioned prompt templates with typed variables, labels and ComfyUI workflow rendering',
	defaults: { name: 'Prompt Template' },
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
				{ name: 'Label', value: 'label' },
				{ name: 'Report', value: 'report' },
				{ name: 'Template', value: 'template' },
				{ name: 'Version', value: 'version' },
			],
			default: 'template',
		},
		...template.description,
		...version.description,
		...label.description,
		...report.description,
	],
};
