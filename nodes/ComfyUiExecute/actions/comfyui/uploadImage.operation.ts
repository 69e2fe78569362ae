import { createHash } from 'node:crypto';

import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

import type { UploadedImage } from '../../../../lib/comfyui';
import { ConflictError, ValidationError } from '../../../../lib/errors';
import { throwIfStopped } from '../../../../lib/generation';
import { BINARY_PROPERTY_PATTERN, type OperationContext } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Input Binary Property',
		name: 'inputBinaryProperty',
		type: 'string',
		default: 'data',
		required: true,
		description: 'Binary property of the input item that holds the image',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'File Name',
				name: 'fileName',
				type: 'string',
				default: '',
				description: 'Name to store the image under. Empty: the file name of the binary data (or image.png).',
			},
			{
				displayName: 'Folder',
				name: 'type',
				type: 'options',
				options: [
					{ name: 'Input', value: 'input', description: 'ComfyUI input folder (what Load Image lists)' },
					{ name: 'Temp', value: 'temp' },
					{ name: 'Output', value: 'output' },
				],
				default: 'input',
			},
			{
				displayName: 'Overwrite',
				name: 'overwrite',
				type: 'boolean',
				default: false,
				description:
					'Whether to replace a file of the same name. Off: ComfyUI keeps both and renames the new one, unless the content is identical.',
			},
			{
				displayName: 'Subfolder',
				name: 'subfolder',
				type: 'string',
				default: '',
				placeholder: 'e.g. products',
			},
			{
				displayName: 'Unique Name by Content',
				name: 'uniqueName',
				type: 'boolean',
				default: true,
				description:
					'Whether to put the first 12 hex digits of the SHA-256 of the image in front of the name: different images never collide, the same image is stored once, and every server of a pool gets the same name',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['comfyui'], operation: ['uploadImage'] } }, properties);

interface UploadOptions {
	fileName?: string;
	type?: 'input' | 'temp' | 'output';
	overwrite?: boolean;
	subfolder?: string;
	uniqueName?: boolean;
}

/**
 * Uploads an image to every server of the pool (a later job may run on any of them) and returns
 * the value for a Load Image node's `image` input. All servers must end up with the same name, or
 * the reference would only work on some of them.
 */
export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<IDataObject> {
	throwIfStopped(ctx.signal);
	const property = String(this.getNodeParameter('inputBinaryProperty', i, 'data')).trim() || 'data';
	if (!BINARY_PROPERTY_PATTERN.test(property)) {
		throw new ValidationError('invalid_input', `Input Binary Property "${property}" must be letters, digits, _ or - (e.g. data)`, {
			field: 'inputBinaryProperty',
		});
	}
	const options = this.getNodeParameter('options', i, {}) as UploadOptions;
	const binary = this.helpers.assertBinaryData(i, property);
	// An image is small enough to hold, and a pool needs the same bytes once per server.
	const content = await this.helpers.getBinaryDataBuffer(i, property);
	const sha256 = createHash('sha256').update(content).digest('hex');

	let fileName = (options.fileName ?? '').trim() || binary.fileName || `image.${binary.fileExtension || 'png'}`;
	fileName = fileName.split(/[\\/]/).pop() || 'image.png';
	if (options.uniqueName !== false) fileName = `${sha256.slice(0, 12)}-${fileName}`;

	const uploads: Array<{ server: string; uploaded: UploadedImage }> = [];
	for (const client of ctx.comfy.clients) {
		const uploaded = await client.uploadImage(content, fileName, {
			overwrite: options.overwrite === true,
			subfolder: options.subfolder?.trim() || undefined,
			type: options.type ?? 'input',
			mimeType: binary.mimeType,
			signal: ctx.signal,
		});
		uploads.push({ server: client.server, uploaded });
	}
	const [first] = uploads;
	const differing = uploads.filter((u) => u.uploaded.reference !== first.uploaded.reference);
	if (differing.length > 0) {
		throw new ConflictError(
			'upload_names_differ',
			`The servers stored the image under different names (${uploads.map((u) => `${u.server}: ${u.uploaded.reference}`).join(', ')}), so no single Load Image value works on all of them`,
			{ hint: 'Turn on "Unique Name by Content" or "Overwrite" in the options.', details: { references: uploads.map((u) => ({ server: u.server, reference: u.uploaded.reference })) } },
		);
	}
	return {
		image: first.uploaded.reference,
		name: first.uploaded.name,
		subfolder: first.uploaded.subfolder,
		type: first.uploaded.type,
		reference: first.uploaded.reference,
		servers: uploads.map((u) => u.server),
		bytes: content.length,
		sha256,
		mimeType: binary.mimeType,
	};
}
