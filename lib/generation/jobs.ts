import type { CancelOutcome, ComfyServerPool, ComfyUiClient, PromptLookup } from '../comfyui';
import { ComfyUiError } from '../comfyui';
import { getExecution, isTerminal, listAssets, type Execution } from '../db/executions';
import { ValidationError, isPromptLabError } from '../errors';
import { filesFromAssets, selectOutputFiles, type RecordedFile } from './files';
import type { Deliver, GenerationContext } from './generate';
import { cancelInput, getResultInput, type CancelInput, type GetResultInput } from './input';
import { ExecutionRecord, errorJson, statusForError } from './recording';

/** The recorded execution of a prompt id, if any (not recorded is no error: the job may come from elsewhere). */
async function executionOfPrompt(ctx: Pick<GenerationContext, 'db'>, promptId: string): Promise<Execution | undefined> {
	if (!ctx.db) return undefined;
	try {
		return await getExecution(ctx.db, { promptId });
	} catch (error) {
		if (isPromptLabError(error, 'execution_not_found')) return undefined;
		throw error;
	}
}

export interface CancelResult {
	promptId: string;
	executionId?: string;
	outcome: CancelOutcome;
	server: string | null;
	/** Whether this call recorded the execution as cancelled (it was still queued or running). */
	recordedAsCancelled: boolean;
}

/**
 * Cancel: deletes the job from the queue if it is waiting, interrupts it if it is running. Without
 * a recorded server every server of the pool is asked until one knows the prompt. A recorded
 * execution that was removed is marked cancelled.
 */
export async function cancelJob(ctx: Pick<GenerationContext, 'comfy' | 'db'>, input: CancelInput | Record<string, unknown>): Promise<CancelResult> {
	const { promptId } = cancelInput.parse(input);
	const execution = await executionOfPrompt(ctx, promptId);
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
			'job_cancelled',
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

/** Where a looked-up job stands. `execution` is its recorded row, when there is one. */
export type JobResult<F extends RecordedFile> = { promptId: string; execution?: Execution } & (
	| { status: 'failed' | 'cancelled' | 'lost'; server?: string | null; error: unknown }
	| { status: 'queued' | 'running'; server?: undefined; recordedOnly: true }
	| { status: 'pending'; server: string; queuePosition: number }
	| { status: 'running'; server: string }
	| { status: 'unknown'; server: string }
	| { status: 'succeeded'; server: string; files: F[]; durationMs?: number; texts?: Record<string, string[]>; fromRecord?: boolean }
);

/**
 * Asks the server the job ran on, or (not recorded) every server of the pool until one knows it.
 * A server that cannot be reached makes "unknown" untrustworthy, so its error is thrown instead.
 */
async function locate(pool: ComfyServerPool, promptId: string, server: string | null | undefined): Promise<{ client: ComfyUiClient; lookup: PromptLookup }> {
	if (server) {
		const client = pool.client(server);
		if (!client) {
			throw new ValidationError('invalid_input', `The job ran on ${server}, which is not a server of this ComfyUI credential`, {
				field: 'executionId',
				hint: 'Add the server to the credential (Base URL / Additional Server URLs).',
				details: { server },
			});
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

/**
 * Get Result: the job by execution id (from the database) or by prompt id (from the servers),
 * and, when this lookup is the first to see it finish, its outcome recorded once. The caller
 * delivers the files (`deliver` gets the selected outputs, or the recorded files when the server
 * forgot a succeeded job).
 */
export async function getJobResult<F extends RecordedFile>(
	ctx: GenerationContext,
	input: GetResultInput | Record<string, unknown>,
	deliver: Deliver<F>,
): Promise<JobResult<F>> {
	const request = getResultInput.parse(input);
	let execution: Execution | undefined;
	let promptId: string;
	if (request.lookupBy === 'executionId') {
		if (!ctx.db) {
			throw new ValidationError('invalid_input', 'Looking up by execution ID reads the PromptLab database, and none is configured', {
				field: 'lookupBy',
				hint: 'Add a PromptLab Postgres credential to the node, or look up by prompt ID.',
			});
		}
		execution = await getExecution(ctx.db, { id: request.executionId });
		promptId = execution.promptId ?? execution.id;
	} else {
		promptId = request.promptId;
		execution = await executionOfPrompt(ctx, promptId);
	}
	const record = execution ? new ExecutionRecord(ctx.db, execution.id) : undefined;
	const base = { promptId, execution };

	if (execution && isTerminal(execution.status) && execution.status !== 'succeeded') {
		return { ...base, status: execution.status, server: execution.server, error: execution.error };
	}
	if (execution && !execution.server) {
		// Recorded but never accepted by a server (the submit itself is still under way or died).
		return { ...base, status: execution.status as 'queued' | 'running', recordedOnly: true };
	}

	const { client, lookup } = await locate(ctx.comfy, promptId, execution?.server);
	const server = client.server;
	switch (lookup.state) {
		case 'pending':
			return { ...base, status: 'pending', server, queuePosition: lookup.position };
		case 'running':
			return { ...base, status: 'running', server };
		case 'failed': {
			const status = statusForError(lookup.error);
			if (record && !isTerminal(execution?.status ?? 'queued')) await record.finish(status, lookup.error);
			return { ...base, status, server, error: errorJson(lookup.error) };
		}
		case 'unknown': {
			if (execution?.status === 'succeeded' && ctx.db) {
				// The server forgot the job (restart, history cleared); its files usually remain in output/.
				const files = filesFromAssets(await listAssets(ctx.db, execution.id));
				const delivery = await deliver(client, files);
				if (delivery.error) throw delivery.error;
				return { ...base, status: 'succeeded', server, files: delivery.files, durationMs: execution.durationMs ?? undefined, fromRecord: true };
			}
			if (record && execution && !isTerminal(execution.status)) {
				const lost = new ComfyUiError(
					'job_lost',
					`ComfyUI at ${server} no longer knows prompt ${promptId} (neither queued, running nor in its history): the server lost it`,
					{ server, promptId },
				);
				await record.finish('lost', lost);
				return { ...base, status: 'lost', server, error: errorJson(lost) };
			}
			return { ...base, status: 'unknown', server };
		}
		case 'success': {
			const result = lookup.result;
			const delivery = await deliver(client, selectOutputFiles(result.outputs, request.outputs));
			if (record && execution && !isTerminal(execution.status)) {
				await record.succeeded(result.timings.durationMs, delivery.files, request.galleryId);
			}
			if (delivery.error) throw delivery.error;
			return {
				...base,
				status: 'succeeded',
				server,
				files: delivery.files,
				durationMs: execution?.durationMs ?? result.timings.durationMs,
				texts: Object.keys(result.texts).length > 0 ? result.texts : undefined,
			};
		}
	}
}
