import {
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
} from 'n8n-workflow';

import { ComfyUiError, type ComfyServerPool, type ComfyUiClient, type OutputFile, type PromptLookup } from '../../../../lib/comfyui';
import { NotFoundError, PromptLabError } from '../../../../lib/db/errors';
import { getExecution, isTerminal, listAssets, type Execution } from '../../../../lib/db/executions';
import { buildOutputItems, deliverFiles, describeFiles, selectOutputFiles } from '../../helpers/outputs';
import { ExecutionRecord, errorJson, statusForError } from '../../helpers/recording';
import type { OperationContext } from '../common';
import { outputFields, readOutputOptions, throwIfCancelled } from './shared';

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

/**
 * Asks the server the job ran on, or (not recorded) every server of the pool until one knows it.
 * A server that cannot be reached makes "unknown" untrustworthy, so its error is thrown instead.
 */
async function locate(pool: ComfyServerPool, promptId: string, server: string | null | undefined): Promise<{ client: ComfyUiClient; lookup: PromptLookup }> {
	if (server) {
		const client = pool.client(server);
		if (!client) {
			throw new PromptLabError(
				`The job ran on ${server}, which is not a server of this node's ComfyUI API credential (Base URL / Additional Server URLs)`,
				'executionId',
			);
		}
		return { client, lookup: await client.lookup(promptId) };
	}
	let failure: unknown;
	for (const client of pool.clients) {
		try {
			const lookup = await client.lookup(promptId);
			if (lookup.state !== 'unknown') return { client, lookup };
		} catch (error) {
			failure ??= error;
		}
	}
	if (failure) throw failure;
	return { client: pool.clients[0], lookup: { state: 'unknown' } };
}

export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<INodeExecutionData[]> {
	throwIfCancelled(ctx.signal);
	const lookupBy = this.getNodeParameter('lookupBy', i, 'executionId') as string;
	const output = readOutputOptions(this.getNodeParameter('options', i, {}) as IDataObject);

	let execution: Execution | undefined;
	let promptId: string;
	if (lookupBy === 'executionId') {
		if (!ctx.db) {
			throw new PromptLabError(
				'Looking up by execution ID reads the PromptLab database: add a PromptLab Postgres credential to this node, or look up by prompt ID',
				'lookupBy',
			);
		}
		execution = await getExecution(ctx.db, { id: String(this.getNodeParameter('executionId', i, '')).trim() });
		promptId = execution.promptId ?? execution.id;
	} else {
		promptId = String(this.getNodeParameter('promptId', i, '')).trim();
		if (!promptId) throw new PromptLabError('Prompt ID is empty', 'promptId');
		if (ctx.db) {
			execution = await getExecution(ctx.db, { promptId }).catch((error: unknown) => {
				if (error instanceof NotFoundError) return undefined;
				throw error;
			});
		}
	}
	const base = executionJson(execution, promptId);
	const record = execution ? new ExecutionRecord(ctx.db, execution.id) : undefined;

	if (execution && isTerminal(execution.status) && execution.status !== 'succeeded') {
		return [{ json: { ...base, status: execution.status, error: execution.error as IDataObject } }];
	}
	if (execution && !execution.server) {
		// Recorded but never accepted by a server (the submit itself is still under way or died).
		return [{ json: { ...base, status: execution.status } }];
	}

	const { client, lookup } = await locate(ctx.comfy, promptId, execution?.server);
	const where = { ...base, server: client.server };
	switch (lookup.state) {
		case 'pending':
			return [{ json: { ...where, status: 'pending', queuePosition: lookup.position } }];
		case 'running':
			return [{ json: { ...where, status: 'running' } }];
		case 'failed': {
			const status = statusForError(lookup.error);
			if (record && !isTerminal(execution?.status ?? 'queued')) await record.finish(status, lookup.error);
			return [{ json: { ...where, status, error: errorJson(lookup.error) as IDataObject } }];
		}
		case 'unknown': {
			if (execution?.status === 'succeeded' && ctx.db) {
				// The server forgot the job (restart, history cleared); its files usually remain in output/.
				const assets = await listAssets(ctx.db, execution.id);
				const files: OutputFile[] = assets.map((a, index) => ({
					nodeId: a.nodeId,
					kind: String(a.metadata.kind ?? 'images'),
					filename: a.filename,
					subfolder: a.subfolder,
					type: a.type,
					mimeType: a.mimeType ?? 'application/octet-stream',
					animated: a.metadata.animated === true,
					cached: a.metadata.cached === true,
					index,
				}));
				const delivery = output.download ? await deliverFiles(this, client, files, ctx.signal) : { files: describeFiles(files) };
				if (delivery.error) throw delivery.error;
				return buildOutputItems({ ...where, status: 'succeeded', fromRecord: true }, delivery.files, output.outputMode, output.binaryPropertyName);
			}
			if (record && execution && !isTerminal(execution.status)) {
				const lost = new ComfyUiError(
					'lost',
					`ComfyUI at ${client.server} no longer knows prompt ${promptId} (neither queued, running nor in its history): the server lost it`,
					{ server: client.server, promptId },
				);
				await record.finish('lost', lost);
				return [{ json: { ...where, status: 'lost', error: errorJson(lost) as IDataObject } }];
			}
			return [{ json: { ...where, status: 'unknown' } }];
		}
		case 'success': {
			const result = lookup.result;
			const files = selectOutputFiles(result.outputs, output.outputs);
			const delivery = output.download ? await deliverFiles(this, client, files, ctx.signal) : { files: describeFiles(files) };
			if (record && execution && !isTerminal(execution.status)) {
				const galleryId = String((this.getNodeParameter('options', i, {}) as IDataObject).galleryId ?? '').trim();
				await record.succeeded(result.timings.durationMs, delivery.files, galleryId || undefined);
			}
			if (delivery.error) throw delivery.error;
			const json: IDataObject = {
				...where,
				status: 'succeeded',
				durationMs: execution?.durationMs ?? result.timings.durationMs,
				...(Object.keys(result.texts).length > 0 ? { texts: result.texts } : {}),
			};
			return buildOutputItems(json, delivery.files, output.outputMode, output.binaryPropertyName);
		}
	}
}
