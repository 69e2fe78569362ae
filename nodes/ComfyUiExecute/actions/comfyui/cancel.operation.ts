import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

import { ComfyUiError, type CancelOutcome, type ComfyUiClient } from '../../../../lib/comfyui';
import { NotFoundError, PromptLabError } from '../../../../lib/db/errors';
import { getExecution, isTerminal, type Execution } from '../../../../lib/db/executions';
import { ExecutionRecord } from '../../helpers/recording';
import type { OperationContext } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Prompt ID',
		name: 'promptId',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. {{ $json.promptId }}',
		description: 'The ComfyUI prompt ID of the job. For jobs of this node it equals the execution ID.',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['comfyui'], operation: ['cancel'] } }, properties);

/**
 * Deletes the job from the queue if it is waiting, interrupts it if it is running. Without a
 * recorded server every server of the pool is asked until one knows the prompt. A recorded
 * execution that was removed is marked cancelled.
 */
export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<IDataObject> {
	// No throwIfCancelled: removing a job is what a cancelled execution wants anyway.
	const promptId = String(this.getNodeParameter('promptId', i, '')).trim();
	if (!promptId) throw new PromptLabError('Prompt ID is empty', 'promptId');

	let execution: Execution | undefined;
	if (ctx.db) {
		execution = await getExecution(ctx.db, { promptId }).catch((error: unknown) => {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		});
	}
	let clients: ComfyUiClient[] = ctx.comfy.clients;
	if (execution?.server) {
		const client = ctx.comfy.client(execution.server);
		if (client) clients = [client];
	}

	let outcome: CancelOutcome = 'not_found';
	let server: string | undefined;
	let failure: unknown;
	for (const client of clients) {
		try {
			outcome = await client.cancel(promptId);
		} catch (error) {
			failure ??= error;
			continue;
		}
		if (outcome !== 'not_found') {
			server = client.server;
			break;
		}
	}
	// "not found" is only an answer if every server could be asked.
	if (outcome === 'not_found' && failure) throw failure;

	let recorded = false;
	if (execution && !isTerminal(execution.status) && (outcome === 'deleted_from_queue' || outcome === 'interrupted')) {
		const reason = new ComfyUiError(
			'cancelled',
			`ComfyUI prompt ${promptId} was cancelled by the Cancel operation: it was ${outcome === 'interrupted' ? 'running and was interrupted' : 'waiting in the queue and was deleted from it'}.`,
			{ server, promptId, cancelAction: outcome },
		);
		const finished = await new ExecutionRecord(ctx.db, execution.id).finish('cancelled', reason);
		recorded = finished?.alreadyFinished === false;
	}
	return {
		promptId,
		...(execution ? { executionId: execution.id } : {}),
		outcome,
		server: server ?? execution?.server ?? null,
		recordedAsCancelled: recorded,
	};
}
