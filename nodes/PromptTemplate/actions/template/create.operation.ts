import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';
import { z } from 'zod';

import { createTemplate } from '../../../../lib/db/templates';
import { parseJsonParameter, parseList } from '../../../shared/parameters';
import { templateToJson, versionContentFields, versionToJson } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Name',
		name: 'name',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. product-hero',
		description: 'Unique name of the template (case-insensitive)',
	},
	{
		displayName: 'Kind',
		name: 'kind',
		type: 'options',
		options: [
			{ name: 'Image (ComfyUI)', value: 'image' },
			{ name: 'Text (LLM)', value: 'text' },
		],
		default: 'image',
	},
	{
		displayName: 'Category',
		name: 'category',
		type: 'string',
		default: '',
		placeholder: 'e.g. product',
	},
	{
		displayName: 'Tags',
		name: 'tags',
		type: 'string',
		default: '',
		placeholder: 'e.g. hero, studio, white-background',
		description: 'Comma-separated tags',
	},
	{
		displayName: 'Description',
		name: 'description',
		type: 'string',
		typeOptions: { rows: 2 },
		default: '',
	},
	...versionContentFields(undefined),
	{
		displayName: 'Labels for First Version',
		name: 'labels',
		type: 'string',
		default: 'production',
		description: 'Comma-separated labels that point at version 1 (empty for none)',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['template'], operation: ['create'] } }, properties);

const parameters = z.object({
	name: z.string().trim().min(1, 'is required').max(200, 'must be at most 200 characters'),
	kind: z.enum(['image', 'text']),
	category: z.string().trim().max(100).optional(),
	tags: z.array(z.string().max(50, 'each tag must be at most 50 characters')).max(50),
	description: z.string().max(5000),
	labels: z.array(z.string()),
});

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const p = parameters.parse({
		name: this.getNodeParameter('name', i),
		kind: this.getNodeParameter('kind', i),
		category: (this.getNodeParameter('category', i, '') as string) || undefined,
		tags: parseList(this.getNodeParameter('tags', i, '')),
		description: this.getNodeParameter('description', i, ''),
		labels: parseList(this.getNodeParameter('labels', i, 'production')),
	});
	const { template, version } = await createTemplate(pool, {
		name: p.name,
		kind: p.kind,
		category: p.category,
		tags: p.tags,
		description: p.description,
		labels: p.labels,
		firstVersion: {
			positivePrompt: this.getNodeParameter('positivePrompt', i, '') as string,
			negativePrompt: this.getNodeParameter('negativePrompt', i, '') as string,
			workflow: parseJsonParameter(this.getNodeParameter('workflow', i, ''), 'workflow', 'ComfyUI Workflow (API Format)'),
			variables: parseJsonParameter(this.getNodeParameter('variables', i, '[]'), 'variables', 'Variables') ?? [],
			commitMessage: (this.getNodeParameter('commitMessage', i, '') as string) || 'first version',
			author: (this.getNodeParameter('author', i, '') as string) || null,
		},
	});
	return { ...templateToJson(template), version: versionToJson(version) };
}
