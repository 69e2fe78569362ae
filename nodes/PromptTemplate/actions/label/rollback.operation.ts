import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { rollbackTemplateLabel } from '../../../../lib/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateLocator } from '../../../shared/parameters';
import { labelMoveToJson, labelNameField, movedByFields, readMoveNote } from './common';

const properties: INodeProperties[] = [templateRLC, labelNameField, ...movedByFields];

export const description = updateDisplayOptions({ show: { resource: ['label'], operation: ['rollback'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const move = await rollbackTemplateLabel(pool, {
		template: readTemplateLocator(this, i),
		label: this.getNodeParameter('label', i) as string,
		...readMoveNote(this, i),
	});
	return labelMoveToJson(move);
}
