import { randomInt, randomUUID } from 'node:crypto';

import type { Pool } from 'pg';

import { ComfyUiError, prepareRun, type ComfyServerPool, type ComfyUiClient, type CompletionResult, type OutputFile, type PromptLookup } from '../comfyui';
import { getExecution, isTerminal, type Execution } from '../db/executions';
import { ConflictError, isPromptLabError } from '../errors';
import { applyOverrides, findSeedInputs, type WorkflowOverrides } from '../templates';
import { generateInput, trackingOf, type GenerateInput, type GenerateRequest, type Tracking } from './input';
import { prepareJob, type PreparedJob } from './prepare';
import { quotaOf, startWithinQuota, type UserQuota } from './quota';
import { ExecutionRecord, withExecutionId } from './recording';
import { selectOutputFiles, type RecordedFile } from './files';

/** What a generation use case needs from its caller: the server pool, the database if any, and a stop signal. */
export interface GenerationContext {
	comfy: ComfyServerPool;
	/** The PromptLab database: recording and templates need it; a raw workflow runs without. */
	db?: Pool;
	/** Fires on the caller's stop (n8n's Stop, a failed sibling item): the job is taken off the server. */
	signal: AbortSignal;
}

/** The result fields of one job, the same whether it was only submitted or waited for. */
export interface JobSummary extends Tracking {
	executionId: string;
	promptId: string;
	templateId?: string;
	templateName?: string;
	version?: number;
	versionId?: string;
	positivePrompt?: string;
	negativePrompt?: string;
	workflowChecksum: string;
	seed?: number;
	/** Whether the run is recorded in the PromptLab database. */
	recorded: boolean;
	/** Overrides that matched no node of the workflow (not applied). */
	warnings?: string[];
}

/** Files of a finished job after the caller delivered them (downloaded into its own storage, or only described). */
export interface Delivery<F extends RecordedFile> {
	files: F[];
	/** A download failed: `files` holds what was delivered, then the rest undelivered. The run is still recorded as succeeded. */
	error?: unknown;
}

/** The caller's way of taking files off a server (download into its storage, or only describe them). */
export type Deliver<F extends RecordedFile> = (client: ComfyUiClient, files: OutputFile[]) => Promise<Delivery<F>>;

export interface GenerateOptions<F extends RecordedFile> {
	/** The caller's own run id (n8n execution id), stored with the execution. */
	callerRunId?: string;
	/** Takes the finished job's files (already selected by `outputs`) from `client`, the server that ran it. */
	deliver: Deliver<F>;
}

export type GenerationOutcome<F extends RecordedFile> =
	| { status: 'submitted'; summary: JobSummary; server: string }
	| {
			status: 'succeeded';
			summary: JobSummary;
			server: string;
			durationMs: number;
			texts: Record<string, string[]>;
			comfyWarnings: CompletionResult['warnings'];
			files: F[];
	  };

/** Where a job with a caller-chosen execution id already is, so a re-run never submits it twice. */
export interface ExistingJob {
	client: ComfyUiClient;
	lookup: Exclude<PromptLookup, { state: 'unknown' }>;
}

/**
 * The idempotent re-run lookup: the recorded execution (if any) and the server that knows the job.
 * A server that cannot be asked may hold the job, so its error is thrown rather than risk running
 * the job twice; a recorded run that finished and that no server knows any more is execution_finished.
 */
export async function findExistingJob(ctx: Pick<GenerationContext, 'comfy' | 'db'>, executionId: string): Promise<{ job?: ExistingJob; execution?: Execution }> {
	let execution: Execution | undefined;
	if (ctx.db) {
		try {
			execution = await getExecution(ctx.db, { id: executionId });
		} catch (error) {
			if (!isPromptLabError(error, 'execution_not_found')) throw error;
		}
	}
	const clients = execution?.server
		? [ctx.comfy.client(execution.server)].filter((c): c is ComfyUiClient => c !== undefined)
		: ctx.comfy.clients;
	let unreachable: unknown;
	for (const client of clients) {
		try {
			const lookup = await client.lookup(execution?.promptId ?? executionId);
			if (lookup.state !== 'unknown') return { job: { client, lookup }, execution };
		} catch (error) {
			unreachable ??= error;
		}
	}
	if (unreachable) throw unreachable;
	if (execution && isTerminal(execution.status)) {
		throw new ConflictError(
			'execution_finished',
			`Execution ${executionId} already finished (${execution.status}) and its server no longer has the job`,
			{ field: 'executionId', hint: 'Use Get Result for what was recorded, or a new execution ID to run it again.', details: { executionId, status: execution.status } },
		);
	}
	return { execution };
}

/** The overrides of a request: a random seed (48 bits, what ComfyUI's UI draws) wins over a fixed one. */
export function overridesOf(request: GenerateRequest): WorkflowOverrides {
	const { randomSeed, seed, ...rest } = request.overrides;
	const overrides: WorkflowOverrides = {};
	for (const [key, value] of Object.entries(rest)) if (value !== undefined) (overrides as Record<string, unknown>)[key] = value;
	if (randomSeed === true) overrides.seed = randomInt(0, 2 ** 48 - 1);
	else if (seed !== undefined) overrides.seed = seed;
	return overrides;
}

/**
 * The seed a job reports and records: a re-used job keeps the seed it ran with (a random seed drawn
 * now would be a lie), else the seed override, else the workflow's own first seed input.
 */
export function seedOf(existing: Execution | undefined, overrides: WorkflowOverrides, workflow: PreparedJob['workflow']): number | undefined {
	const recorded = existing?.seed != null ? Number(existing.seed) : undefined;
	if (recorded !== undefined && Number.isSafeInteger(recorded)) return recorded;
	return overrides.seed ?? findSeedInputs(workflow)[0]?.value;
}

/**
 * Generate: validate the input once, prepare the job (template render or raw workflow), apply the
 * overrides, find an earlier run of the same execution id, record the execution, run it on the
 * pool (or only submit it), and record the outcome. The caller delivers the files.
 */
export async function generate<F extends RecordedFile>(
	ctx: GenerationContext,
	input: GenerateInput | Record<string, unknown>,
	options: GenerateOptions<F>,
): Promise<GenerationOutcome<F>> {
	const request = generateInput.parse(input);
	const quota = quotaOf(ctx.db, request);
	throwIfStopped(ctx.signal);
	const job = await prepareJob(ctx.db, request);
	const overrides = overridesOf(request);
	const overridden = applyOverrides(job.workflow, overrides);
	const warnings = overridden.unmatched.map((key) => `Override "${key}" matched no node of the workflow and was not applied`);
	const executionId = request.executionId ?? randomUUID();
	try {
		return await runJob(ctx, request, options, { job, workflow: overridden.workflow, overrides, executionId, warnings, quota });
	} catch (error) {
		// A refused job has no execution: naming an id nobody can look up would mislead.
		if (isPromptLabError(error, 'quota_exceeded')) throw error;
		throw withExecutionId(error, executionId);
	}
}

interface PlannedJob {
	job: PreparedJob;
	workflow: PreparedJob['workflow'];
	overrides: WorkflowOverrides;
	executionId: string;
	warnings: string[];
	/** The per-user limits to enforce when the execution row is inserted, if the request sets any. */
	quota?: UserQuota;
}

async function runJob<F extends RecordedFile>(
	ctx: GenerationContext,
	request: GenerateRequest,
	options: GenerateOptions<F>,
	{ job, workflow: overriddenWorkflow, overrides, executionId, warnings, quota }: PlannedJob,
): Promise<GenerationOutcome<F>> {
	const tracking = trackingOf(request);
	const { workflow, runFolder } = prepareRun(overriddenWorkflow, { promptId: executionId });
	const record = new ExecutionRecord(ctx.db, executionId);
	const existing = request.executionId ? await findExistingJob(ctx, executionId) : {};
	const seed = seedOf(existing.execution, overrides, overriddenWorkflow);
	const summary: JobSummary = {
		executionId,
		promptId: executionId,
		...(job.template
			? {
					templateId: job.template.id,
					templateName: job.template.name,
					version: job.template.version,
					versionId: job.template.versionId,
					positivePrompt: job.renderedPrompt?.positive,
					negativePrompt: job.renderedPrompt?.negative,
				}
			: {}),
		workflowChecksum: job.checksum,
		...(seed !== undefined ? { seed } : {}),
		...tracking,
		recorded: record.enabled,
		...(warnings.length > 0 ? { warnings } : {}),
	};

	const start = {
		templateId: job.template?.id,
		versionId: job.template?.versionId,
		campaignId: tracking.campaignId,
		variantId: tracking.variantId,
		userId: tracking.userId,
		promptId: executionId,
		renderedPrompt: job.renderedPrompt,
		variables: job.variables,
		workflowChecksum: job.checksum,
		seed,
		n8nExecutionId: options.callerRunId,
	};
	// Admission happens here, before anything reaches ComfyUI. A job a server already has (an
	// idempotent re-run) is past admission: refusing it now would save nothing.
	if (quota && !existing.job) await startWithinQuota(quota, { ...start, id: executionId, source: 'comfyui' });
	else await record.start(start);
	const extraData = {
		extra_pnginfo: { promptlab: { executionId, templateId: job.template?.id ?? null, version: job.template?.version ?? null } },
	};

	let client: ComfyUiClient;
	let result: CompletionResult | undefined;
	if (existing.job) {
		client = existing.job.client;
		await record.running(client.server);
		const found = existing.job.lookup;
		if (found.state === 'failed') throw await record.failed(found.error);
		if (found.state === 'success') result = found.result;
	} else if (request.waitForCompletion) {
		// pool.run: the job waits in the pool for the server expected to finish it first, and the
		// timeout covers that wait too. It is recorded as running once a server has accepted it.
		let recordingError: unknown;
		try {
			result = await ctx.comfy.run(overriddenWorkflow, {
				promptId: executionId,
				signal: ctx.signal,
				timeoutMs: request.timeout * 1000,
				extraData,
				onSubmitted: async (submitted) => {
					try {
						await record.running(submitted.server);
					} catch (error) {
						recordingError = error; // the pool takes the job back off the server
						throw error;
					}
				},
			});
		} catch (error) {
			if (recordingError !== undefined && error === recordingError) throw error;
			throw await record.failed(error);
		}
		client = clientOf(ctx.comfy, result.server, 'ran the job on');
	} else {
		let server: string;
		try {
			server = (await ctx.comfy.submit(workflow, { promptId: executionId, runFolder, signal: ctx.signal, extraData })).server;
		} catch (error) {
			throw await record.failed(error);
		}
		client = clientOf(ctx.comfy, server, 'placed the job on');
		try {
			await record.running(server);
		} catch (error) {
			// Nobody could record the outcome: take the job back off the server rather than let it run unseen.
			await client.cancel(executionId).catch(() => undefined);
			throw error;
		}
	}

	if (!result && !request.waitForCompletion) return { status: 'submitted', summary, server: client.server };
	if (!result) {
		try {
			result = await client.waitForCompletion(executionId, { timeoutMs: request.timeout * 1000, signal: ctx.signal });
		} catch (error) {
			throw await record.failed(error);
		}
	}

	const delivery = await options.deliver(client, selectOutputFiles(result.outputs, request.outputs));
	// The job succeeded on ComfyUI even if a download failed: record it so, with what is known of its files.
	await record.succeeded(result.timings.durationMs, delivery.files, tracking.galleryId);
	if (delivery.error) throw delivery.error;
	return {
		status: 'succeeded',
		summary,
		server: result.server,
		durationMs: result.timings.durationMs,
		texts: result.texts,
		comfyWarnings: result.warnings,
		files: delivery.files,
	};
}

function clientOf(pool: ComfyServerPool, server: string, what: string): ComfyUiClient {
	const client = pool.client(server);
	if (!client) throw new ComfyUiError('comfyui_bad_response', `The pool ${what} ${server}, which it does not list`, { server });
	return client;
}

/** Before starting work: the caller's stop (or a failed sibling item) already fired. */
export function throwIfStopped(signal: AbortSignal): void {
	if (signal.aborted) {
		throw new ComfyUiError('job_cancelled', 'The execution was cancelled before this item started; nothing was sent to ComfyUI.');
	}
}
