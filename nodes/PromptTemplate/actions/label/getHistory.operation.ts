import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getLabelHistory } from '../../../../lib/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateLocator } from '../../../shared/parameters';

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
	const { template, history } = await getLabelHistory(pool, {
		template: readTemplateLocator(this, i),
		label: this.getNodeParameter('label', i, '') as string,
		limit: this.getNodeParameter('limit', i, 50) as number,
	});
	return history.map((h) => ({ templateId: template.id, templateName: template.name, ...h }));
}
