import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { setLabel } from '../../../../lib/db/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateRef } from '../../../shared/parameters';
import { labelMoveToJson, labelNameField, movedByFields } from './common';

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
	const move = await setLabel(
		pool,
		readTemplateRef(this, i),
		String(this.getNodeParameter('label', i)).trim(),
		Number(this.getNodeParameter('version', i)),
		{
			movedBy: (this.getNodeParameter('movedBy', i, '') as string) || null,
			reason: (this.getNodeParameter('reason', i, '') as string) || null,
		},
	);
	return labelMoveToJson(move);
}
