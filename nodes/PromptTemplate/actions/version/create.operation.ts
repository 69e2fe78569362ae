import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { createVersion } from '../../../../lib/templates';
import { templateRLC } from '../../../shared/descriptions';
import { parseList, readTemplateLocator } from '../../../shared/parameters';
import { readVersionContent, templateToJson, versionContentFields, versionToJson } from '../common';

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
		readTemplateLocator(this, i),
		readVersionContent(this, i),
		parseList(this.getNodeParameter('labels', i, '')),
	);
	return { ...versionToJson(version), template: templateToJson(template) };
}
