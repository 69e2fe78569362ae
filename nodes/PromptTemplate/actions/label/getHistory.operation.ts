import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getTemplate, labelHistory } from '../../../../lib/db/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateRef } from '../../../shared/parameters';

const properties: INodeProperties[] = [
	templateRLC,
	{
		displayName: 'Label',
		name: 'label',
		type: 'string',
		default: '',
		placeholder: 'e.g. production',
		description: 'Only moves of this label (empty for all labels)',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['label'], operation: ['getHistory'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const template = await getTemplate(pool, readTemplateRef(this, i));
	const label = (this.getNodeParameter('label', i, '') as string) || undefined;
	const limit = Math.max(1, Number(this.getNodeParameter('limit', i, 50)));
	const history = await labelHistory(pool, template, label, limit);
	return history.map((h) => ({ templateId: template.id, templateName: template.name, ...h }));
}
