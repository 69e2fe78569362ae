import type { INodeProperties } from 'n8n-workflow';

import * as cancel from './cancel.operation';
import * as generate from './generate.operation';
import * as getQueueStatus from './getQueueStatus.operation';
import * as getResult from './getResult.operation';
import * as uploadImage from './uploadImage.operation';

export { cancel, generate, getQueueStatus, getResult, uploadImage };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['comfyui'] } },
		options: [
			{
				name: 'Cancel',
				value: 'cancel',
				description: 'Delete a job from the queue, or interrupt it if it is running',
				action: 'Cancel a job',
			},
			{
				name: 'Generate',
				value: 'generate',
				description: 'Run a template or workflow on ComfyUI and output the files',
				action: 'Generate images or videos',
			},
			{
				name: 'Get Queue Status',
				value: 'getQueueStatus',
				description: 'Running and waiting jobs and health of each server',
				action: 'Get the queue status',
			},
			{
				name: 'Get Result',
				value: 'getResult',
				description: 'Status and files of a job, by execution ID or prompt ID',
				action: 'Get the result of a job',
			},
			{
				name: 'Upload Image',
				value: 'uploadImage',
				description: 'Upload an image for a Load Image node (img2img, inpainting, ControlNet)',
				action: 'Upload an image',
			},
		],
		default: 'generate',
	},
	...generate.description,
	...uploadImage.description,
	...getResult.description,
	...cancel.description,
	...getQueueStatus.description,
];
