import type { Pool } from 'pg';

import { isComfyUiError } from '../../../lib/comfyui';
import {
	finishExecution,
	markExecutionRunning,
	startExecution,
	type AssetInput,
	type Execution,
	type FinishResult,
	type StartExecutionInput,
	type TerminalStatus,
} from '../../../lib/db/executions';
import type { DeliveredFile } from './outputs';

/**
 * How a failed wait ends up in executions.status:
 * - n8n's Stop, or someone interrupting the job in ComfyUI → 'cancelled' (a person decided; the
 *   template did not fail);
 * - 'lost' (the server forgot the prompt) → 'lost';
 * - everything else, the node's own Timeout included → 'failed': a job that did not finish within
 *   the time the workflow allows is a failed run for the success rate, and the error JSON
 *   (code 'timeout', cancelAction) says it was removed from the server.
 */
export function statusForError(error: unknown): Exclude<TerminalStatus, 'succeeded'> {
	if (isComfyUiError(error)) {
		if (error.code === 'cancelled' || error.code === 'interrupted') return 'cancelled';
		if (error.code === 'lost') return 'lost';
	}
	return 'failed';
}

/** The executions.error JSON: ComfyUiError.toJSON() (code, nodeErrors, cancelAction, ...), else name + message. */
export function errorJson(error: unknown): Record<string, unknown> {
	if (isComfyUiError(error)) return error.toJSON();
	if (error instanceof Error) return { name: error.name, message: error.message };
	return { message: String(error) };
}

export function assetInputs(files: DeliveredFile[], galleryId: string | undefined): AssetInput[] {
	return files.map((file) => ({
		nodeId: file.nodeId,
		filename: file.filename,
		subfolder: file.subfolder,
		type: file.type,
		mimeType: file.mimeType,
		bytes: file.bytes ?? null,
		sha256: file.sha256 ?? null,
		galleryId: galleryId ?? null,
		metadata: { kind: file.kind, index: file.index, cached: file.cached, ...(file.animated ? { animated: true } : {}) },
	}));
}

/**
 * The executions row of one job, when the node has a PromptLab Postgres credential; every method
 * is a no-op without one. All writes are idempotent (lib/db/executions), so an n8n retry that
 * reuses the execution id records the run once.
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

	async succeeded(durationMs: number | undefined, files: DeliveredFile[], galleryId: string | undefined): Promise<FinishResult | undefined> {
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
		if (!this.db) return error;
		try {
			await this.finish(statusForError(error), error);
		} catch (recordError) {
			if (error instanceof Error) {
				error.message += `\n(The PromptLab database could not record this failure either: ${(recordError as Error).message})`;
			}
		}
		return error;
	}
}
