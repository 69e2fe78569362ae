import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import type { LabelMove } from '../../../../lib/templates';

export const labelNameField: INodeProperties = {
	displayName: 'Label',
	name: 'label',
	type: 'string',
	required: true,
	default: 'production',
	placeholder: 'e.g. production',
	description: 'Lower-case letters, digits, ".", "_" or "-"',
};

export const movedByFields: INodeProperties[] = [
	{
		displayName: 'Moved By',
		name: 'movedBy',
		type: 'string',
		default: '',
		description: 'Who moved the label (kept in the label history)',
	},
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: '',
		description: 'Why the label moved (kept in the label history)',
	},
];

export function labelMoveToJson(move: LabelMove): IDataObject {
	return {
		templateId: move.template.id,
		templateName: move.template.name,
		label: move.label,
		fromVersion: move.fromVersion,
		toVersion: move.toVersion,
		labels: move.template.labels,
	};
}

/** Who moved the label and why (item i), as the label use cases take them. */
export function readMoveNote(ctx: IExecuteFunctions, i: number): { movedBy: string; reason: string } {
	return { movedBy: ctx.getNodeParameter('movedBy', i, '') as string, reason: ctx.getNodeParameter('reason', i, '') as string };
}
