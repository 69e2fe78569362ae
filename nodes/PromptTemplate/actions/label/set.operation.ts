import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { setTemplateLabel } from '../../../../lib/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateLocator } from '../../../shared/parameters';
import { labelMoveToJson, labelNameField, movedByFields, readMoveNote } from './common';

const properties: INodeProperties[] = [
	templateRLC,
	labelNameField,
	{
		displayName: 'Version',
		name: 'version',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 1,
		description: 'Version the label should point to',
	},
	...movedByFields,
];

export const description = updateDisplayOptions({ show: { resource: ['label'], operation: ['set'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const move = await setTemplateLabel(pool, {
		template: readTemplateLocator(this, i),
		label: this.getNodeParameter('label', i) as string,
		version: this.getNodeParameter('version', i) as number,
		...readMoveNote(this, i),
	});
	return labelMoveToJson(move);
}
