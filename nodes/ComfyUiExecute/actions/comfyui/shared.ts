import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { ComfyUiError } from '../../../../lib/comfyui';
import { PromptLabError } from '../../../../lib/db/errors';
import { BINARY_PROPERTY_PATTERN, UUID_PATTERN, type Tracking } from '../common';

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

export function readTracking(ctx: IExecuteFunctions, i: number): Tracking {
	const raw = ctx.getNodeParameter('tracking', i, {}) as IDataObject;
	const tracking: Tracking = {};
	for (const key of ['userId', 'campaignId', 'variantId', 'galleryId'] as const) {
		const value = raw[key];
		const text = value === undefined || value === null ? '' : String(value).trim();
		if (text) tracking[key] = text;
	}
	for (const key of ['campaignId', 'variantId'] as const) {
		const value = tracking[key];
		if (value && !UUID_PATTERN.test(value)) {
			throw new PromptLabError(`${key === 'campaignId' ? 'Campaign ID' : 'Variant ID'} "${value}" is not a UUID`, key);
		}
	}
	return tracking;
}

export interface OutputOptions {
	outputMode: 'perFile' | 'allInOne';
	binaryPropertyName: string;
	outputs: 'saved' | 'all';
	download: boolean;
}

export function readOutputOptions(raw: IDataObject): OutputOptions {
	const binaryPropertyName = String(raw.binaryPropertyName ?? 'data').trim() || 'data';
	if (!BINARY_PROPERTY_PATTERN.test(binaryPropertyName)) {
		throw new PromptLabError(`Binary Property "${binaryPropertyName}" must be letters, digits, _ or - (e.g. data)`, 'binaryPropertyName');
	}
	return {
		outputMode: raw.outputMode === 'allInOne' ? 'allInOne' : 'perFile',
		binaryPropertyName,
		outputs: raw.outputs === 'all' ? 'all' : 'saved',
		download: raw.download !== false,
	};
}

/** Before starting an item's work: n8n's Stop (or a failed sibling item) already fired. */
export function throwIfCancelled(signal: AbortSignal): void {
	if (signal.aborted) {
		throw new ComfyUiError('cancelled', 'The execution was cancelled before this item started; nothing was sent to ComfyUI.');
	}
}
