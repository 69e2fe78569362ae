import type { Pool } from 'pg';

import { isComfyUiError } from '../comfyui';
import {
	finishExecution,
	markExecutionRunning,
	startExecution,
	type Execution,
	type FinishResult,
	type StartExecutionInput,
	type TerminalStatus,
} from '../db/executions';
import { isPromptLabError, type ErrorJson } from '../errors';
import { assetInputs, type RecordedFile } from './files';

/**
 * How a failed wait ends up in executions.status:
 * - n8n's Stop, or someone interrupting the job in ComfyUI → 'cancelled' (a person decided; the
 *   template did not fail);
 * - job_lost (the server forgot the prompt) → 'lost';
 * - everything else, the node's own Timeout included → 'failed': a job that did not finish within
 *   the time the workflow allows is a failed run for the success rate, and the error JSON
 *   (code comfyui_timeout, details.cancelAction) says it was removed from the server.
 */
export function statusForError(error: unknown): Exclude<TerminalStatus, 'succeeded'> {
	if (isComfyUiError(error)) {
		if (error.code === 'job_cancelled' || error.code === 'job_interrupted') return 'cancelled';
		if (error.code === 'job_lost') return 'lost';
	}
	return 'failed';
}

/**
 * The executions.error JSON: the error contract's JSON (code, kind, message, hint, details with
 * nodeErrors, cancelAction, server...) for our errors; name and message for anything else.
 */
export function errorJson(error: unknown): ErrorJson | Record<string, unknown> {
	if (isPromptLabError(error)) return error.toJSON();
	if (error instanceof Error) return { name: error.name, message: error.message };
	return { message: String(error) };
}

/** Every error after a job got its id names it, so a caller can look the job up (Get Result, the executions row). */
export function withExecutionId(error: unknown, executionId: string): unknown {
	if (isPromptLabError(error) && error.details?.executionId === undefined) {
		// details is the error's machine part; adding the id keeps its code, class and message.
		(error as { details?: Record<string, unknown> }).details = { ...error.details, executionId };
	}
	return error;
}

/**
 * The executions row of one job, when a PromptLab database is configured; every method is a no-op
 * without one. All writes are idempotent (lib/db/executions), so an n8n retry that reuses the
 * execution id records the run once.
 */
export class ExecutionRecord {
	constructor(
		private readonly db: Pool | undefined,
		readonly id: string,
	) {}

	get enabled(): boolean {
		return this.db !== undefined;
	}

	async start(input: Omit<StartExecutionInput, 'id' | 'source'>): Promise<Execution | undefined> {
		if (!this.db) return undefined;
		return startExecution(this.db, { ...input, id: this.id, source: 'comfyui' });
	}

	async running(server: string): Promise<void> {
		if (!this.db) return;
		await markExecutionRunning(this.db, this.id, { server, promptId: this.id });
	}

	async succeeded(durationMs: number | undefined, files: RecordedFile[], galleryId: string | undefined): Promise<FinishResult | undefined> {
		if (!this.db) return undefined;
		return finishExecution(this.db, this.id, {
			status: 'succeeded',
			durationMs: durationMs === undefined ? undefined : Math.max(0, Math.round(durationMs)),
			assets: assetInputs(files, galleryId),
		});
	}

	async finish(status: Exclude<TerminalStatus, 'succeeded'>, error: unknown): Promise<FinishResult | undefined> {
		if (!this.db) return undefined;
		return finishExecution(this.db, this.id, { status, error: errorJson(error) });
	}

	/**
	 * Records a failure and hands back the error to throw. The ComfyUI error is what the user must
	 * see; if recording fails too (the database went away), that is added to its message rather than
	 * replacing it.
	 */
	async failed(error: unknown): Promise<unknown> {
		withExecutionId(error, this.id);
		if (!this.db) return error;
		try {
			await this.finish(statusForError(error), error);
		} catch (recordError) {
			if (error instanceof Error) {
				error.message += ` (The PromptLab database could not record this failure either: ${(recordError as Error).message})`;
			}
		}
		return error;
	}
}
