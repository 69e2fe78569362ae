import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { recommendForUser } from '../../../../lib/recommendations';
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
	{
		displayName: 'User ID',
		name: 'userId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. {{ $json.userId }}',
		description: 'The user whose ratings drive the list (the user ID recorded with feedback)',
	},
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
				displayName: 'History Size',
				name: 'historySize',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 500 },
				default: 50,
				description: "How many of the user's most recently rated templates are used",
			},
			maxPerCategoryOption,
			{
				displayName: 'Minimum Liked Templates',
				name: 'minLikedTemplates',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 1,
				description: 'Users with fewer templates rated 4 or 5 get popular templates instead',
			},
			...popularityOptions,
			{
				displayName: 'Refresh When Older Than (Hours)',
				name: 'refreshIfOlderThanHours',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 24,
				description:
					'Recompute the similarities in the background (one worker at a time) when older than this; 0 = only with the Refresh Similarities operation',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['forUser'] } }, properties);

interface Options {
	historySize?: number;
	maxPerCategory?: number;
	minLikedTemplates?: number;
	popularityMethod?: 'bayesian_average' | 'wilson';
	priorWeight?: number;
	refreshIfOlderThanHours?: number;
}

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const o = this.getNodeParameter('options', i, {}) as Options;
	const result = await recommendForUser(pool, this.getNodeParameter('userId', i), {
		...readFilters(this, i),
		limit: readLimit(this, i),
		maxPerCategory: o.maxPerCategory,
		historySize: o.historySize,
		minLikedTemplates: o.minLikedTemplates,
		refreshIfOlderThanHours: o.refreshIfOlderThanHours,
		popularity: readPopularity(o),
	});
	return shapeOutput(this, i, result.items, {
		userId: result.userId,
		strategy: result.strategy,
		...(this.getNodeParameter('returnAs', i, 'items') === 'list'
			? { history: result.history, neighborsRefreshedAt: result.neighborsRefreshedAt }
			: {}),
	});
}
