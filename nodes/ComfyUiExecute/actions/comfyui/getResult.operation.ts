import {
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
} from 'n8n-workflow';

import type { Execution } from '../../../../lib/db/executions';
import { getJobResult, throwIfStopped } from '../../../../lib/generation';
import { buildOutputItems, deliverer } from '../../helpers/outputs';
import type { OperationContext } from '../common';
import { outputFields, readOutputOptions } from './shared';

const properties: INodeProperties[] = [
	{
		displayName: 'Look Up By',
		name: 'lookupBy',
		type: 'options',
		options: [
			{
				name: 'Execution ID',
				value: 'executionId',
				description: 'The executionId of a Generate output (needs the PromptLab Postgres credential)',
			},
			{ name: 'Prompt ID', value: 'promptId', description: 'A ComfyUI prompt ID, asked of the servers directly' },
		],
		default: 'executionId',
	},
	{
		displayName: 'Execution ID',
		name: 'executionId',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. {{ $json.executionId }}',
		displayOptions: { show: { lookupBy: ['executionId'] } },
	},
	{
		displayName: 'Prompt ID',
		name: 'promptId',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. {{ $json.promptId }}',
		displayOptions: { show: { lookupBy: ['promptId'] } },
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			...outputFields,
			{
				displayName: 'Gallery ID',
				name: 'galleryId',
				type: 'string',
				default: '',
				description:
					'Gallery to file the outputs under when this lookup is the one that records a submitted-only job as finished',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['comfyui'], operation: ['getResult'] } }, properties);

function executionJson(execution: Execution | undefined, promptId: string): IDataObject {
	if (!execution) return { promptId };
	return {
		executionId: execution.id,
		promptId,
		server: execution.server,
		templateId: execution.templateId,
		versionId: execution.versionId,
		campaignId: execution.campaignId,
		variantId: execution.variantId,
		userId: execution.userId,
		seed: execution.seed,
		createdAt: execution.createdAt,
		startedAt: execution.startedAt,
		finishedAt: execution.finishedAt,
		durationMs: execution.durationMs,
		recorded: true,
	};
}

/** Where a job stands, by execution ID or prompt ID (lib/generation getJobResult), as items. */
export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<INodeExecutionData[]> {
	throwIfStopped(ctx.signal);
	const options = this.getNodeParameter('options', i, {}) as IDataObject;
	const output = readOutputOptions(options);
	const lookupBy = this.getNodeParameter('lookupBy', i, 'executionId') as string;
	const result = await getJobResult(
		ctx,
		{
			lookupBy,
			...(lookupBy === 'executionId'
				? { executionId: this.getNodeParameter('executionId', i, '') }
				: { promptId: this.getNodeParameter('promptId', i, '') }),
			galleryId: options.galleryId,
			outputs: options.outputs,
		},
		deliverer(this, output.download, ctx.signal),
	);
	const base = executionJson(result.execution, result.promptId);
	switch (result.status) {
		case 'succeeded': {
			const json: IDataObject = {
				...base,
				server: result.server,
				status: 'succeeded',
				...(result.fromRecord ? { fromRecord: true } : {}),
				...(result.durationMs !== undefined && !result.fromRecord ? { durationMs: result.durationMs } : {}),
				...(result.texts ? { texts: result.texts } : {}),
			};
			return buildOutputItems(json, result.files, output.outputMode, output.binaryPropertyName);
		}
		case 'failed':
		case 'cancelled':
		case 'lost':
			return [{ json: { ...base, ...(result.server !== undefined ? { server: result.server } : {}), status: result.status, error: result.error as IDataObject } }];
		case 'pending':
			return [{ json: { ...base, server: result.server, status: 'pending', queuePosition: result.queuePosition } }];
		case 'queued':
			return [{ json: { ...base, status: result.status } }];
		default:
			return [{ json: { ...base, ...(result.server ? { server: result.server } : {}), status: result.status } }];
	}
}
