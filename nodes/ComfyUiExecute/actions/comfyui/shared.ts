import type { IDataObject, INodeProperties } from 'n8n-workflow';

import { ValidationError } from '../../../../lib/errors';
import { BINARY_PROPERTY_PATTERN } from '../common';

/** Output options shared by Generate and Get Result. */
export const outputFields: INodeProperties[] = [
	{
		displayName: 'Binary Property',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		description: 'Name of the binary property for the files. With "All Files on One Item" the files go to &lt;name&gt;_0, &lt;name&gt;_1 and so on.',
	},
	{
		displayName: 'Download Files',
		name: 'download',
		type: 'boolean',
		default: true,
		description:
			'Whether to download the output files into n8n binary data (streamed, with size and SHA-256). Off: metadata only (file names, folders, types).',
	},
	{
		displayName: 'Output Files',
		name: 'outputs',
		type: 'options',
		options: [
			{
				name: 'Saved Files',
				value: 'saved',
				description: 'Files written to the output folder (Save Image, Save Video, ...); previews only if nothing was saved',
			},
			{ name: 'All Files', value: 'all', description: 'Saved files and temporary previews (Preview Image)' },
		],
		default: 'saved',
	},
	{
		displayName: 'Output Mode',
		name: 'outputMode',
		type: 'options',
		options: [
			{ name: 'One Item per File', value: 'perFile', description: 'Each file on its own item, in the binary property' },
			{ name: 'All Files on One Item', value: 'allInOne', description: 'One item per job with binary properties data_0, data_1 and so on' },
		],
		default: 'perFile',
	},
];

/** Fields a job carries so feedback, galleries and A/B results can find it (stored with the execution). */
export const trackingCollection: INodeProperties = {
	displayName: 'Tracking',
	name: 'tracking',
	type: 'collection',
	placeholder: 'Add Field',
	default: {},
	description: 'Stored with the execution (when the PromptLab Postgres credential is set) and passed on in the output',
	options: [
		{
			displayName: 'Campaign ID',
			name: 'campaignId',
			type: 'string',
			default: '',
			description: 'A/B campaign the job belongs to (UUID; usually from the A/B Campaign node)',
		},
		{
			displayName: 'Gallery ID',
			name: 'galleryId',
			type: 'string',
			default: '',
			description: 'Groups the output files of several jobs, e.g. all images of one product',
		},
		{
			displayName: 'User ID',
			name: 'userId',
			type: 'string',
			default: '',
			description: 'The end user the job is for (the A/B unit; needed to match feedback and recommendations)',
		},
		{
			displayName: 'Variant ID',
			name: 'variantId',
			type: 'string',
			default: '',
			description: 'Campaign variant (UUID; usually from the A/B Campaign node)',
		},
	],
};

/** How the node hands a job's files to n8n (which files is the use case's `outputs`). */
export interface OutputOptions {
	outputMode: 'perFile' | 'allInOne';
	binaryPropertyName: string;
	download: boolean;
}

export function readOutputOptions(raw: IDataObject): OutputOptions {
	const binaryPropertyName = String(raw.binaryPropertyName ?? 'data').trim() || 'data';
	if (!BINARY_PROPERTY_PATTERN.test(binaryPropertyName)) {
		throw new ValidationError('invalid_input', `Binary Property "${binaryPropertyName}" must be letters, digits, _ or - (e.g. data)`, {
			field: 'binaryPropertyName',
		});
	}
	return {
		outputMode: raw.outputMode === 'allInOne' ? 'allInOne' : 'perFile',
		binaryPropertyName,
		download: raw.download !== false,
	};
}
