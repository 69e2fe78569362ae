import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import type { Template, TemplateVersion, VersionContentInput } from '../../../lib/templates';
import type { FieldLabels } from '../../shared/errors';
import { parseJsonParameter } from '../../shared/parameters';

/**
 * Display names by input-schema field (lib/templates/inputs.ts and the report's input), so the
 * n8n error says which parameter to change; the error items keep the schema name in `field`.
 */
export const FIELD_LABELS: FieldLabels = {
	name: 'Name',
	kind: 'Kind',
	category: 'Category',
	tags: 'Tags',
	description: 'Description',
	positivePrompt: 'Positive Prompt',
	negativePrompt: 'Negative Prompt',
	workflow: 'ComfyUI Workflow (API Format)',
	variables: 'Variables',
	commitMessage: 'Commit Message',
	author: 'Author',
	values: 'Variable Values',
	expectedWorkflowChecksum: 'Expected Workflow Checksum',
	template: 'Template',
	version: 'Version',
	label: 'Label',
	labels: 'Labels',
	movedBy: 'Moved By',
	reason: 'Reason',
	limit: 'Limit',
	offset: 'Offset',
	search: 'Search',
	tagsAny: 'Tags (Any)',
	tagsAll: 'Tags (All)',
	sortBy: 'Sort By',
	sortOrder: 'Order',
	fromVersion: 'From Version',
	toVersion: 'To Version',
	from: 'From',
	listLength: 'List Length',
	to: 'To',
};

/** The version content parameters of item i (Create Template, Create Version), as the use case takes them. */
export function readVersionContent(ctx: IExecuteFunctions, i: number): VersionContentInput {
	return {
		positivePrompt: ctx.getNodeParameter('positivePrompt', i, '') as string,
		negativePrompt: ctx.getNodeParameter('negativePrompt', i, '') as string,
		workflow: parseJsonParameter(ctx.getNodeParameter('workflow', i, ''), 'workflow', FIELD_LABELS.workflow),
		variables: parseJsonParameter(ctx.getNodeParameter('variables', i, '[]'), 'variables', FIELD_LABELS.variables),
		commitMessage: ctx.getNodeParameter('commitMessage', i, '') as string,
		author: ctx.getNodeParameter('author', i, '') as string,
	};
}

/** Fields shared by "create template" and "create version": the content of one version. */
export function versionContentFields(show: INodeProperties['displayOptions']): INodeProperties[] {
	return [
		{
			displayName: 'Positive Prompt',
			name: 'positivePrompt',
			type: 'string',
			typeOptions: { rows: 4 },
			default: '',
			placeholder: 'e.g. studio photo of {{product}}, {{style}} lighting',
			description: 'Prompt text; {{name}} placeholders are filled from typed variables when rendering',
			displayOptions: show,
		},
		{
			displayName: 'Negative Prompt',
			name: 'negativePrompt',
			type: 'string',
			typeOptions: { rows: 2 },
			default: '',
			displayOptions: show,
		},
		{
			displayName: 'ComfyUI Workflow (API Format)',
			name: 'workflow',
			type: 'json',
			default: '',
			description:
				'Workflow exported from ComfyUI with "Export (API)". String inputs may use {{name}}, {{positive_prompt}} and {{negative_prompt}}.',
			displayOptions: show,
		},
		{
			displayName: 'Variables',
			name: 'variables',
			type: 'json',
			default: '[]',
			description:
				'Typed variables as a JSON array, e.g. [{"name":"product","type":"string","maxLength":200},{"name":"seed","type":"seed"}]. Types: string, number, integer, boolean, enum (with "options"), seed.',
			displayOptions: show,
		},
		{
			displayName: 'Commit Message',
			name: 'commitMessage',
			type: 'string',
			default: '',
			placeholder: 'e.g. softer lighting, fewer steps',
			displayOptions: show,
		},
		{
			displayName: 'Author',
			name: 'author',
			type: 'string',
			default: '',
			displayOptions: show,
		},
	];
}

export function templateToJson(template: Template): IDataObject {
	return { ...template } as unknown as IDataObject;
}

export function versionToJson(version: TemplateVersion): IDataObject {
	return { ...version } as unknown as IDataObject;
}
