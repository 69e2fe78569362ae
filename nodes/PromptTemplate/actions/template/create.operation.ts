import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { createTemplate, type TemplateKind } from '../../../../lib/templates';
import { readVersionContent, templateToJson, versionContentFields, versionToJson } from '../common';

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

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const content = readVersionContent(this, i);
	const { template, version } = await createTemplate(pool, {
		name: this.getNodeParameter('name', i) as string,
		kind: this.getNodeParameter('kind', i) as TemplateKind,
		category: this.getNodeParameter('category', i, '') as string,
		tags: this.getNodeParameter('tags', i, '') as string,
		description: this.getNodeParameter('description', i, '') as string,
		labels: this.getNodeParameter('labels', i, 'production') as string,
		firstVersion: { ...content, commitMessage: content.commitMessage || 'first version' },
	});
	return { ...templateToJson(template), version: versionToJson(version) };
}
