import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { popularTemplates } from '../../../../lib/recommendations';
import {
	filtersField,
	limitField,
	maxPerCategoryOption,
	popularityOptions,
	readFilters,
	readLimit,
	readPopularity,
	returnAsField,
	shapeOutput,
} from '../common';

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

interface Options {
	excludeUsedBy?: string;
	maxPerCategory?: number;
	popularityMethod?: 'bayesian_average' | 'wilson';
	priorWeight?: number;
}

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const o = this.getNodeParameter('options', i, {}) as Options;
	const items = await popularTemplates(pool, {
		...readFilters(this, i),
		limit: readLimit(this, i),
		maxPerCategory: o.maxPerCategory,
		excludeUsedBy: typeof o.excludeUsedBy === 'string' ? o.excludeUsedBy.trim() || undefined : o.excludeUsedBy,
		popularity: readPopularity(o),
	});
	return shapeOutput(this, i, items, { strategy: 'popular' });
}
