import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { findTemplates, type TemplateKind, type TemplateSortField } from '../../../../lib/templates';
import { returnAllOrLimitFields, sortCollection } from '../../../shared/descriptions';
import { templateToJson } from '../common';

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
	sortCollection(
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
		'asc',
		[
			{
				displayName: 'Offset',
				name: 'offset',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Number of templates to skip (pagination)',
			},
		],
	),

];

export const description = updateDisplayOptions({ show: { resource: ['template'], operation: ['getAll'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const filters = this.getNodeParameter('filters', i, {}) as IDataObject;
	const sort = this.getNodeParameter('sort', i, {}) as IDataObject;
	const page = await findTemplates(pool, {
		returnAll,
		...(returnAll ? {} : { limit: this.getNodeParameter('limit', i, 50) as number }),
		category: filters.category as string | undefined,
		kind: (filters.kind as TemplateKind | '' | undefined) || undefined,
		search: filters.search as string | undefined,
		tagsAny: filters.tagsAny as string | undefined,
		tagsAll: filters.tagsAll as string | undefined,
		includeArchived: filters.includeArchived as boolean | undefined,
		sortBy: sort.sortBy as TemplateSortField | undefined,
		sortOrder: sort.sortOrder as 'asc' | 'desc' | undefined,
		offset: sort.offset as number | undefined,
	});
	return page.items.map(templateToJson);
}
