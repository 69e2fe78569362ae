import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';
import { z } from 'zod';

import { similarTemplates } from '../../../../lib/db/recommendations';
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

const options = z.object({ maxPerCategory: z.number().int('must be a whole number').min(0, 'must be 0 or more').optional() });

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const o = options.parse(this.getNodeParameter('options', i, {}));
	const result = await similarTemplates(pool, readTemplateRef(this, i), {
		...readFilters(this, i),
		limit: readLimit(this, i),
		maxPerCategory: o.maxPerCategory,
	});
	return shapeOutput(this, i, result.items, { similarTo: result.template });
}
