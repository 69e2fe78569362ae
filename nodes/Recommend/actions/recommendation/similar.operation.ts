import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { similarTemplates } from '../../../../lib/recommendations';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateRef } from '../../../shared/parameters';
import { filtersField, limitField, maxPerCategoryOption, readFilters, readLimit, returnAsField, shapeOutput } from '../common';

const properties: INodeProperties[] = [
	templateRLC,
	limitField,
	filtersField,
	returnAsField,
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [{ ...maxPerCategoryOption, default: 0 }],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['similar'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const o = this.getNodeParameter('options', i, {}) as { maxPerCategory?: number };
	const result = await similarTemplates(pool, readTemplateRef(this, i), {
		...readFilters(this, i),
		limit: readLimit(this, i),
		maxPerCategory: o.maxPerCategory,
	});
	return shapeOutput(this, i, result.items, { similarTo: result.template });
}
