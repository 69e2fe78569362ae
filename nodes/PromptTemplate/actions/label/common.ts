import type { IDataObject, INodeProperties } from 'n8n-workflow';

import type { LabelMove } from '../../../../lib/db/templates';

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
