import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';
import { z } from 'zod';

import { listTemplates, TEMPLATE_SORT_FIELDS, type TemplateSortField } from '../../../../lib/db/templates';
import { parseList } from '../../../shared/parameters';
import { templateToJson } from '../common';
import { returnAllOrLimitFields } from '../../../shared/descriptions';

const properties: INodeProperties[] = [
	...returnAllOrLimitFields,
	{
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
					'Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>',
			},
			{
				displayName: 'Include Archived',
				name: 'includeArchived',
				type: 'boolean',
				default: false,
				description: 'Whether to include archived templates',
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
				displayName: 'Search',
				name: 'search',
				type: 'string',
				default: '',
				description: 'Text to find in the name or description',
			},
			{
				displayName: 'Tags (All)',
				name: 'tagsAll',
				type: 'string',
				default: '',
				description: 'Comma-separated tags; a template must have every one',
			},
			{
				displayName: 'Tags (Any)',
				name: 'tagsAny',
				type: 'string',
				default: '',
				description: 'Comma-separated tags; a template must have at least one',
			},
		],
	},
	{
		displayName: 'Sort',
		name: 'sort',
		type: 'collection',
		placeholder: 'Add Sort Option',
		default: {},
		options: [
			{
				displayName: 'Sort By',
				name: 'sortBy',
				type: 'options',
				options: [
					{ name: 'Category', value: 'category' },
					{ name: 'Created At', value: 'createdAt' },
					{ name: 'Latest Version', value: 'latestVersion' },
					{ name: 'Name', value: 'name' },
					{ name: 'Updated At', value: 'updatedAt' },
				],
				default: 'name',
			},
			{
				displayName: 'Order',
				name: 'sortOrder',
				type: 'options',
				options: [
					{ name: 'Ascending', value: 'asc' },
					{ name: 'Descending', value: 'desc' },
				],
				default: 'asc',
			},
			{
				displayName: 'Offset',
				name: 'offset',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Number of templates to skip (pagination)',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['template'], operation: ['getAll'] } }, properties);

const sortFields = Object.keys(TEMPLATE_SORT_FIELDS) as [TemplateSortField, ...TemplateSortField[]];
const parameters = z.object({
	limit: z.number().int().min(1).max(10_000),
	category: z.string().trim().optional(),
	kind: z.enum(['image', 'text']).optional(),
	search: z.string().max(200).optional(),
	tagsAny: z.array(z.string()),
	tagsAll: z.array(z.string()),
	includeArchived: z.boolean(),
	sortBy: z.enum(sortFields, {
		errorMap: () => ({ message: `must be one of ${sortFields.join(', ')}` }),
	}),
	sortOrder: z.enum(['asc', 'desc']),
	offset: z.number().int().min(0),
});

const PAGE = 500;

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const filters = this.getNodeParameter('filters', i, {}) as Record<string, unknown>;
	const sort = this.getNodeParameter('sort', i, {}) as Record<string, unknown>;
	const p = parameters.parse({
		limit: returnAll ? PAGE : this.getNodeParameter('limit', i, 50),
		category: (filters.category as string) || undefined,
		kind: (filters.kind as string) || undefined,
		search: (filters.search as string) || undefined,
		tagsAny: parseList(filters.tagsAny),
		tagsAll: parseList(filters.tagsAll),
		includeArchived: Boolean(filters.includeArchived),
		sortBy: sort.sortBy ?? 'name',
		sortOrder: sort.sortOrder ?? 'asc',
		offset: sort.offset ?? 0,
	});
	const items = [];
	let offset: number | null = p.offset;
	while (offset !== null) {
		const page = await listTemplates(pool, { ...p, offset });
		items.push(...page.items.map(templateToJson));
		offset = returnAll ? page.nextOffset : null;
	}
	return items;
}
