import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';
import { z } from 'zod';

import { popularTemplates } from '../../../../lib/db/recommendations';
import { filtersField, limitField, maxPerCategoryOption, popularityOptions, readFilters, readLimit, returnAsField, shapeOutput } from '../common';

const properties: INodeProperties[] = [
	limitField,
	filtersField,
	returnAsField,
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Exclude Templates Used By',
				name: 'excludeUsedBy',
				type: 'string',
				default: '',
				placeholder: 'e.g. {{ $json.userId }}',
				description: 'A user ID: leave out templates this user already ran or rated',
			},
			maxPerCategoryOption,
			...popularityOptions,
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['popular'] } }, properties);

const options = z.object({
	excludeUsedBy: z.string().trim().max(500).optional(),
	maxPerCategory: z.number().int('must be a whole number').min(0, 'must be 0 or more').optional(),
	popularityMethod: z.enum(['bayesian_average', 'wilson']).optional(),
	priorWeight: z.number().positive('must be above 0').optional(),
});

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const o = options.parse(this.getNodeParameter('options', i, {}));
	const items = await popularTemplates(pool, {
		...readFilters(this, i),
		limit: readLimit(this, i),
		maxPerCategory: o.maxPerCategory,
		excludeUsedBy: o.excludeUsedBy || undefined,
		popularity: { method: o.popularityMethod, priorWeight: o.priorWeight },
	});
	return shapeOutput(this, i, items, { strategy: 'popular' });
}
