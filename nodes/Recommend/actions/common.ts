import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { z } from 'zod';

import type { Recommendation, RecommendFilters } from '../../../lib/db/recommendations';
import { parseList } from '../../shared/parameters';

/** Display names of parameters, used by error messages to name the field to fix. */
export const FIELD_LABELS: Record<string, string> = {
	userId: 'User ID',
	template: 'Template',
	listLength: 'List Length',
	kind: 'Kind',
	category: 'Category',
	tags: 'Tags',
	maxPerCategory: 'Max per Category',
	popularityMethod: 'Popularity Ranking',
	priorWeight: 'Prior Weight',
	historySize: 'History Size',
	minLikedTemplates: 'Minimum Liked Templates',
	refreshIfOlderThanHours: 'Refresh When Older Than (Hours)',
	excludeUsedBy: 'Exclude Templates Used By',
	returnAs: 'Return As',
	similarity: 'Similarity',
	neighborsPerTemplate: 'Neighbours per Template',
	contentNeighborsPerTemplate: 'Tag Neighbours per Template',
	minCoRaters: 'Minimum Co-Raters',
	shrinkage: 'Shrinkage',
	contentWeight: 'Tag/Category Weight',
	maxRatingsPerUser: 'Ratings per User',
	maxFeatureShare: 'Max Tag Share',
};

// A recommendation list is short by nature (10, at most 100), so it is a "list length" rather
// than the paging "Limit" of Get Many operations (whose n8n conventions are 50 and no maximum).
export const limitField: INodeProperties = {
	displayName: 'List Length',
	name: 'listLength',
	type: 'number',
	typeOptions: { minValue: 1 },
	default: 10,
	description: 'How many templates to return (1 to 100)',
};

export const filtersField: INodeProperties = {
	displayName: 'Filters',
	name: 'filters',
	type: 'collection',
	placeholder: 'Add Filter',
	default: {},
	options: [
		{
			displayName: 'Category Name or ID',
			name: 'category',
			type: 'options',
			typeOptions: { loadOptionsMethod: 'getCategories' },
			default: '',
			description:
				'Only templates of this category. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
		},
		{
			displayName: 'Kind',
			name: 'kind',
			type: 'options',
			options: [
				{ name: 'Image', value: 'image' },
				{ name: 'Text', value: 'text' },
			],
			default: 'image',
		},
		{
			displayName: 'Tags',
			name: 'tags',
			type: 'string',
			default: '',
			placeholder: 'e.g. portrait, studio',
			description: 'Comma-separated; a template must have at least one of them',
		},
	],
};

export const returnAsField: INodeProperties = {
	displayName: 'Return As',
	name: 'returnAs',
	type: 'options',
	options: [
		{ name: 'Separate Items', value: 'items', description: 'One output item per recommended template' },
		{ name: 'Single List', value: 'list', description: 'One output item per input item, with the list under "items"' },
	],
	default: 'items',
};

export const maxPerCategoryOption: INodeProperties = {
	displayName: 'Max per Category',
	name: 'maxPerCategory',
	type: 'number',
	typeOptions: { minValue: 0 },
	default: 5,
	description: 'At most this many results from one category, for variety (0 = no limit)',
};

export const popularityOptions: INodeProperties[] = [
	{
		displayName: 'Popularity Ranking',
		name: 'popularityMethod',
		type: 'options',
		options: [
			{
				name: 'Bayesian Average',
				value: 'bayesian_average',
				description: 'Mean rating pulled towards the catalogue mean by Prior Weight pseudo-ratings',
			},
			{
				name: 'Wilson Lower Bound',
				value: 'wilson',
				description: 'Pessimistic estimate of the share of 4–5 star ratings',
			},
		],
		default: 'bayesian_average',
		description: 'How popular templates are ranked; never by the raw average, so one 5-star rating does not top the list',
	},
	{
		displayName: 'Prior Weight',
		name: 'priorWeight',
		type: 'number',
		typeOptions: { minValue: 0.1 },
		default: 10,
		description: 'Bayesian average: how many ratings at the catalogue mean every template starts with',
	},
];

const filterSchema = z.object({
	kind: z.enum(['image', 'text'], { errorMap: () => ({ message: 'must be image or text' }) }).optional(),
	category: z.string().trim().max(100).optional(),
	tags: z.array(z.string().max(50, 'each tag must be at most 50 characters')).max(50),
});

export function readFilters(ctx: IExecuteFunctions, i: number): RecommendFilters {
	const filters = ctx.getNodeParameter('filters', i, {}) as Record<string, unknown>;
	const parsed = filterSchema.parse({
		kind: (filters.kind as string) || undefined,
		category: (filters.category as string) || undefined,
		tags: parseList(filters.tags),
	});
	return { kind: parsed.kind, category: parsed.category, tags: parsed.tags.length ? parsed.tags : undefined };
}

export function readLimit(ctx: IExecuteFunctions, i: number): number {
	return z
		.object({ listLength: z.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(100, 'must be at most 100') })
		.parse({ listLength: ctx.getNodeParameter('listLength', i, 10) }).listLength;
}

export function recommendationToJson(item: Recommendation, rank: number): IDataObject {
	return JSON.parse(JSON.stringify({ rank, ...item })) as IDataObject;
}

/** Items or one list, as the user chose; `extra` goes on every item (or on the list). */
export function shapeOutput(ctx: IExecuteFunctions, i: number, items: Recommendation[], extra: IDataObject): IDataObject | IDataObject[] {
	const returnAs = ctx.getNodeParameter('returnAs', i, 'items') as string;
	const list = items.map((item, index) => recommendationToJson(item, index + 1));
	if (returnAs === 'list') return { ...extra, count: list.length, items: list };
	return list.map((item) => ({ ...extra, ...item }));
}
