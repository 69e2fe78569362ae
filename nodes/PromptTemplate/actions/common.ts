import type { IDataObject, INodeProperties } from 'n8n-workflow';

import type { Template, TemplateVersion } from '../../../lib/db/templates';

/** Display names of parameters, used by error messages to name the field to fix. */
export const FIELD_LABELS: Record<string, string> = {
	name: 'Name',
	kind: 'Kind',
	category: 'Category',
	tags: 'Tags',
	description: 'Description',
	positivePrompt: 'Positive Prompt',
	negativePrompt: 'Negative Prompt',
	workflow: 'ComfyUI Workflow (API Format)',
	variables: 'Variables',
	values: 'Variable Values',
	template: 'Template',
	version: 'Version',
	label: 'Label',
	labels: 'Labels',
	limit: 'Limit',
	sortBy: 'Sort By',
	fromVersion: 'From Version',
	toVersion: 'To Version',
	from: 'From',
	listLength: 'List Length',
	to: 'To',
};

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
