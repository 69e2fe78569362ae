import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getTemplate, resolveVersion } from '../../../../lib/db/templates';
import { diffVersions } from '../../../../lib/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateRef } from '../../../shared/parameters';

const properties: INodeProperties[] = [
	templateRLC,
	{
		displayName: 'From Version',
		name: 'fromVersion',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 1,
	},
	{
		displayName: 'To Version',
		name: 'toVersion',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 2,
	},
];

export const description = updateDisplayOptions({ show: { resource: ['version'], operation: ['diff'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const template = await getTemplate(pool, readTemplateRef(this, i));
	const from = await resolveVersion(pool, template, { version: Number(this.getNodeParameter('fromVersion', i)) });
	const to = await resolveVersion(pool, template, { version: Number(this.getNodeParameter('toVersion', i)) });
	const diff = diffVersions(from.version, to.version);
	return {
		templateId: template.id,
		templateName: template.name,
		fromVersion: from.version.version,
		toVersion: to.version.version,
		...diff,
	};
}
