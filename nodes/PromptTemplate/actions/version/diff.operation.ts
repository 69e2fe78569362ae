import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { diffTemplateVersions } from '../../../../lib/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateLocator } from '../../../shared/parameters';

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
	const { template, diff } = await diffTemplateVersions(pool, {
		template: readTemplateLocator(this, i),
		fromVersion: this.getNodeParameter('fromVersion', i) as number,
		toVersion: this.getNodeParameter('toVersion', i) as number,
	});
	return { templateId: template.id, templateName: template.name, ...diff };
}
