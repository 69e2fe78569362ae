import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { createVersion } from '../../../../lib/db/templates';
import { templateRLC } from '../../../shared/descriptions';
import { parseJsonParameter, parseList, readTemplateRef } from '../../../shared/parameters';
import { templateToJson, versionContentFields, versionToJson } from '../common';

const properties: INodeProperties[] = [
	templateRLC,
	...versionContentFields(undefined),
	{
		displayName: 'Labels',
		name: 'labels',
		type: 'string',
		default: '',
		placeholder: 'e.g. staging',
		description: 'Comma-separated labels to move to the new version (leave empty to move none)',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['version'], operation: ['create'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const { template, version } = await createVersion(
		pool,
		readTemplateRef(this, i),
		{
			positivePrompt: this.getNodeParameter('positivePrompt', i, '') as string,
			negativePrompt: this.getNodeParameter('negativePrompt', i, '') as string,
			workflow: parseJsonParameter(this.getNodeParameter('workflow', i, ''), 'workflow', 'ComfyUI Workflow (API Format)'),
			variables: parseJsonParameter(this.getNodeParameter('variables', i, '[]'), 'variables', 'Variables') ?? [],
			commitMessage: this.getNodeParameter('commitMessage', i, '') as string,
			author: (this.getNodeParameter('author', i, '') as string) || null,
		},
		parseList(this.getNodeParameter('labels', i, '')),
	);
	return { ...versionToJson(version), template: templateToJson(template) };
}
