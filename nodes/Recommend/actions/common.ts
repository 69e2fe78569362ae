import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import type { Recommendation } from '../../../lib/recommendations';
import { parseList } from '../../shared/parameters';

/** Display names of parameters by input-schema field, so n8n errors name the parameter to fix. */
export const FIELD_LABELS: Record<string, string> = {
	userId: 'User ID',
	template: 'Template',
	limit: 'List Length',
	kind: 'Kind',
	category: 'Category',
	tags: 'Tags',
	maxPerCategory: 'Max per Category',
	'popularity.method': 'Popularity Ranking',
	'popularity.priorWeight': 'Prior Weight',
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

/** The Filters collection as use-case input (validated there). */
export function readFilters(ctx: IExecuteFunctions, i: number): { kind?: 'image' | 'text'; category?: string; tags?: string[] } {
	const filters = ctx.getNodeParameter('filters', i, {}) as { kind?: 'image' | 'text' | ''; category?: string; tags?: unknown };
	const tags = parseList(filters.tags);
	return { kind: filters.kind || undefined, category: filters.category || undefined, tags: tags.length ? tags : undefined };
}

export function readLimit(ctx: IExecuteFunctions, i: number): number {
	return ctx.getNodeParameter('listLength', i, 10) as number;
}

/** The popularity options of a collection as use-case input. */
export function readPopularity(options: { popularityMethod?: 'bayesian_average' | 'wilson'; priorWeight?: number }) {
	return { method: options.popularityMethod, priorWeight: options.priorWeight };
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
