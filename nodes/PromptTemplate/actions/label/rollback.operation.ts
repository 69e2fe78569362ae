import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { rollbackLabel } from '../../../../lib/db/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateRef } from '../../../shared/parameters';
import { labelMoveToJson, labelNameField, movedByFields } from './common';

const properties: INodeProperties[] = [templateRLC, labelNameField, ...movedByFields];

export const description = updateDisplayOptions({ show: { resource: ['label'], operation: ['rollback'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const move = await rollbackLabel(pool, readTemplateRef(this, i), String(this.getNodeParameter('label', i)).trim(), {
		movedBy: (this.getNodeParameter('movedBy', i, '') as string) || null,
		reason: (this.getNodeParameter('reason', i, '') as string) || null,
	});
	return labelMoveToJson(move);
}
