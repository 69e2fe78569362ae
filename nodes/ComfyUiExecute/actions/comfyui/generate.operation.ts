import { randomInt, randomUUID } from 'node:crypto';

import {
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
} from 'n8n-workflow';

import {
	ComfyUiError,
	ensureApiWorkflow,
	prepareRun,
	type ApiWorkflow,
	type ComfyUiClient,
	type CompletionResult,
	type PromptLookup,
} from '../../../../lib/comfyui';
import { PromptLabError } from '../../../../lib/db/errors';
import { checkExecutionId, getExecution, isTerminal, type Execution } from '../../../../lib/db/executions';
import { getTemplate, resolveVersion } from '../../../../lib/db/templates';
import {
	applyOverrides,
	findSeedInputs,
	isTemplateError,
	renderTemplate,
	workflowChecksum,
	type OverrideResult,
	type WorkflowOverrides,
} from '../../../../lib/templates';
import { templateRLC, versionSelectorFields } from '../../../shared/descriptions';
import { parseJsonParameter, readTemplateRef, readVersionSelector } from '../../../shared/parameters';
import { buildOutputItems, deliverFiles, describeFiles, selectOutputFiles } from '../../helpers/outputs';
import { ExecutionRecord } from '../../helpers/recording';
import type { OperationContext, Tracking } from '../common';
import { outputFields, readOutputOptions, readTracking, throwIfCancelled, trackingCollection, type OutputOptions } from './shared';

const show = { source: ['template'] };

const properties: INodeProperties[] = [
	{
		displayName: 'Source',
		name: 'source',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'From Template',
				value: 'template',
				description: 'Render a Prompt Template version (needs the PromptLab Postgres credential)',
			},
			{ name: 'Raw Workflow', value: 'workflow', description: 'A workflow in ComfyUI API format, as JSON' },
		],
		default: 'template',
	},
	{ ...templateRLC, displayOptions: { show } },
	...versionSelectorFields({ show }),
	{
		displayName: 'Variable Values',
		name: 'values',
		type: 'json',
		default: '{}',
		description:
			'Values for the template variables as a JSON object, e.g. {"product":"red sneaker","seed":42}. Missing, extra or ill-typed values are refused with the variable named.',
		displayOptions: { show },
	},
	{
		displayName: 'Workflow (API Format)',
		name: 'workflow',
		type: 'json',
		default: '',
		required: true,
		description:
			'The workflow as ComfyUI exports it with Workflow → Export (API). The editor format (with "nodes" and "links") is refused with instructions.',
		displayOptions: { show: { source: ['workflow'] } },
	},
	{
		displayName: 'Overrides',
		name: 'overrides',
		type: 'collection',
		placeholder: 'Add Override',
		default: {},
		description: 'Generation parameters set on every node that has them (samplers, latent image, checkpoint loader)',
		options: [
			{
				displayName: 'CFG',
				name: 'cfg',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100, numberPrecision: 1 },
				default: 7,
				description: 'Every numeric "cfg" input (KSampler, CFGGuider, ...)',
			},
			{
				displayName: 'Checkpoint Name or ID',
				name: 'checkpoint',
				type: 'options',
				typeOptions: { loadOptionsMethod: 'getCheckpoints' },
				default: '',
				description:
					'Every "ckpt_name" input. The list comes from the server (/object_info). Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
			},
			{
				displayName: 'Height',
				name: 'height',
				type: 'number',
				typeOptions: { minValue: 16, maxValue: 16384 },
				default: 1024,
				description: 'Height of the empty latent image (Empty Latent Image and similar nodes)',
			},
			{
				displayName: 'Random Seed',
				name: 'randomSeed',
				type: 'boolean',
				default: true,
				description: 'Whether to draw a new random seed for every item (wins over Seed)',
			},
			{
				displayName: 'Seed',
				name: 'seed',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'A fixed seed for every "seed" / "noise_seed" input: the same inputs then give the same image',
			},
			{
				displayName: 'Steps',
				name: 'steps',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 10000 },
				default: 20,
				description: 'Every numeric "steps" input',
			},
			{
				displayName: 'Width',
				name: 'width',
				type: 'number',
				typeOptions: { minValue: 16, maxValue: 16384 },
				default: 1024,
				description: 'Width of the empty latent image (Empty Latent Image and similar nodes)',
			},
		],
	},
	{
		displayName: 'Wait for Completion',
		name: 'waitForCompletion',
		type: 'boolean',
		default: true,
		description:
			'Whether to wait for the job and output its files. Off: submit only, and output the execution ID and prompt ID at once (use Get Result later).',
	},
	trackingCollection,
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Execution ID',
				name: 'executionId',
				type: 'string',
				default: '',
				placeholder: 'e.g. 6f1c0b7e-4a8d-4e57-9a1e-0c9b0f4f3d21',
				description:
					'A UUID for this job (also its ComfyUI prompt ID). Empty: a new one per item. Set it (e.g. from an order or request ID) to make re-runs idempotent: a job ComfyUI already has is awaited instead of submitted again, and the run is recorded once.',
			},
			...outputFields,
			{
				displayName: 'Parallel Items',
				name: 'parallelItems',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 16 },
				default: 1,
				description:
					'How many items run at once. 1 = one after the other. More is useful with several servers (Additional Server URLs in the credential); output order and pairing stay the same.',
			},
			{
				displayName: 'Timeout (Seconds)',
				name: 'timeout',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 600,
				description:
					'Longest wait for one job, time in the queue included. On expiry the job is deleted from the queue or interrupted, and the item fails with a timeout error.',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['comfyui'], operation: ['generate'] } }, properties);

interface GenerateOptions {
	executionId?: string;
	parallelItems?: number;
	timeout?: number;
}

interface PreparedJob {
	workflow: ApiWorkflow;
	checksum: string;
	template?: { id: string; name: string; version: number; versionId: string };
	renderedPrompt?: { positive: string; negative: string };
	variables?: Record<string, unknown>;
}

/** Parallel Items of the node (read once, from the first item: it shapes the whole run). */
export function parallelItems(ctx: IExecuteFunctions): number {
	const options = ctx.getNodeParameter('options', 0, {}) as GenerateOptions;
	const value = Number(options.parallelItems ?? 1);
	if (!Number.isInteger(value) || value < 1 || value > 16) {
		throw new PromptLabError(`Parallel Items must be a whole number from 1 to 16 (got ${String(options.parallelItems)})`, 'parallelItems');
	}
	return value;
}

async function prepareJob(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<PreparedJob> {
	const source = this.getNodeParameter('source', i, 'template') as string;
	if (source === 'template') {
		if (!ctx.db) {
			throw new PromptLabError(
				'Source "From Template" reads the template from the PromptLab database: add a PromptLab Postgres credential to this node, or choose Source "Raw Workflow"',
				'source',
			);
		}
		const template = await getTemplate(ctx.db, readTemplateRef(this, i));
		const { version } = await resolveVersion(ctx.db, template, readVersionSelector(this, i));
		const values = parseJsonParameter(this.getNodeParameter('values', i, '{}'), 'values', 'Variable Values') ?? {};
		if (typeof values !== 'object' || values === null || Array.isArray(values)) {
			throw new PromptLabError('Variable Values must be a JSON object such as {"product": "sneaker"}', 'values');
		}
		const rendered = renderTemplate({
			positivePrompt: version.positivePrompt,
			negativePrompt: version.negativePrompt,
			workflow: version.workflow,
			variables: version.variables,
			values: values as Record<string, unknown>,
		});
		if (!rendered.workflow) {
			throw new PromptLabError(
				`Template "${template.name}" version ${version.version} has no ComfyUI workflow (a text template): add a version with a workflow, or render it with the Prompt Template node`,
				'template',
			);
		}
		return {
			workflow: rendered.workflow,
			checksum: version.workflowChecksum ?? (rendered.workflowChecksum as string),
			template: { id: template.id, name: template.name, version: version.version, versionId: version.id },
			renderedPrompt: { positive: rendered.positivePrompt, negative: rendered.negativePrompt },
			variables: rendered.values as Record<string, unknown>,
		};
	}
	const raw = parseJsonParameter(this.getNodeParameter('workflow', i, ''), 'workflow', 'Workflow (API Format)');
	if (raw === undefined || raw === null || raw === '') {
		throw new PromptLabError('Workflow (API Format) is empty: paste the JSON that ComfyUI saves with Workflow → Export (API)', 'workflow');
	}
	const workflow = ensureApiWorkflow(raw);
	return { workflow, checksum: workflowChecksum(workflow) };
}

function readOverrides(ctx: IExecuteFunctions, i: number): WorkflowOverrides {
	const raw = ctx.getNodeParameter('overrides', i, {}) as IDataObject;
	const overrides: WorkflowOverrides = {};
	const number = (key: 'seed' | 'steps' | 'cfg' | 'width' | 'height') => {
		const value = raw[key];
		if (value === undefined || value === null || value === '') return;
		overrides[key] = typeof value === 'number' ? value : Number(value);
	};
	if (raw.randomSeed === true) overrides.seed = randomInt(0, 2 ** 48 - 1);
	else number('seed');
	number('steps');
	number('cfg');
	number('width');
	number('height');
	if (typeof raw.checkpoint === 'string' && raw.checkpoint.trim() !== '') overrides.checkpoint = raw.checkpoint.trim();
	return overrides;
}

function readOptions(ctx: IExecuteFunctions, i: number): OutputOptions & { executionId?: string; timeout: number } {
	const options = ctx.getNodeParameter('options', i, {}) as GenerateOptions & IDataObject;
	const timeout = Number(options.timeout ?? 600);
	if (!Number.isFinite(timeout) || timeout <= 0) {
		throw new PromptLabError(`Timeout must be a number of seconds above 0 (got ${String(options.timeout)})`, 'timeout');
	}
	const executionId = String(options.executionId ?? '').trim();
	return {
		...readOutputOptions(options),
		executionId: executionId ? checkExecutionId(executionId) : undefined,
		timeout,
	};
}

/** Where a job with a caller-chosen execution id already is, so a re-run never submits it twice. */
interface ExistingJob {
	client: ComfyUiClient;
	lookup: Exclude<PromptLookup, { state: 'unknown' }>;
}

async function findExistingJob(ctx: OperationContext, executionId: string): Promise<{ job?: ExistingJob; execution?: Execution }> {
	let execution: Execution | undefined;
	if (ctx.db) {
		try {
			execution = await getExecution(ctx.db, { id: executionId });
		} catch (error) {
			if (!(error instanceof PromptLabError)) throw error;
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
	// A server that could not be asked may hold the job: submitting again could run it twice.
	if (unreachable) throw unreachable;
	if (execution && isTerminal(execution.status)) {
		throw new PromptLabError(
			`Execution ${executionId} already finished (${execution.status}) and its server no longer has the job: use Get Result for what was recorded, or a new Execution ID to run it again`,
			'executionId',
		);
	}
	return { execution };
}

export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<INodeExecutionData[]> {
	throwIfCancelled(ctx.signal);
	const options = readOptions(this, i);
	const tracking: Tracking = readTracking(this, i);
	const wait = this.getNodeParameter('waitForCompletion', i, true) as boolean;
	const job = await prepareJob.call(this, ctx, i);

	const overrides = readOverrides(this, i);
	let overridden: OverrideResult;
	try {
		overridden = applyOverrides(job.workflow, overrides);
	} catch (error) {
		// Its field is the override (steps, width...), not the Variable Values a TemplateError usually means.
		if (isTemplateError(error) && error.field) throw new PromptLabError(error.message, error.field);
		throw error;
	}
	const warnings = overridden.unmatched.map((key) => `Override "${key}" matched no node of the workflow and was not applied`);
	if (warnings.length > 0) this.addExecutionHints(...warnings.map((message) => ({ message, location: 'outputPane' as const })));
	const executionId = options.executionId ?? randomUUID();
	const { workflow, runFolder } = prepareRun(overridden.workflow, { promptId: executionId });
	const record = new ExecutionRecord(ctx.db, executionId);
	const existing = options.executionId ? await findExistingJob(ctx, executionId) : {};
	// A reused job keeps the seed it ran with (a random seed drawn now would be a lie).
	const recordedSeed = existing.execution?.seed != null ? Number(existing.execution.seed) : undefined;
	const seed =
		recordedSeed !== undefined && Number.isSafeInteger(recordedSeed)
			? recordedSeed
			: (overrides.seed ?? findSeedInputs(overridden.workflow)[0]?.value);

	const base: IDataObject = {
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

	await record.start({
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
		n8nExecutionId: this.getExecutionId(),
	});

	let client: ComfyUiClient;
	let result: CompletionResult | undefined;
	if (existing.job) {
		client = existing.job.client;
		await record.running(client.server);
		const found = existing.job.lookup;
		if (found.state === 'failed') throw await record.failed(found.error);
		if (found.state === 'success') result = found.result;
	} else if (wait) {
		// pool.run: the job waits in the pool for the server expected to finish it first, and the
		// timeout covers that wait too. It is recorded as running once a server has accepted it.
		let recordingError: unknown;
		try {
			result = await ctx.comfy.run(overridden.workflow, {
				promptId: executionId,
				signal: ctx.signal,
				timeoutMs: options.timeout * 1000,
				extraData: {
					extra_pnginfo: {
						promptlab: { executionId, templateId: job.template?.id ?? null, version: job.template?.version ?? null },
					},
				},
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
		const ranOn = ctx.comfy.client(result.server);
		if (!ranOn) {
			throw new ComfyUiError('bad_response', `The pool ran the job on ${result.server}, which it does not list`, { server: result.server });
		}
		client = ranOn;
	} else {
		let server: string;
		try {
			const submitted = await ctx.comfy.submit(workflow, {
				promptId: executionId,
				runFolder,
				signal: ctx.signal,
				extraData: {
					extra_pnginfo: {
						promptlab: { executionId, templateId: job.template?.id ?? null, version: job.template?.version ?? null },
					},
				},
			});
			server = submitted.server;
		} catch (error) {
			throw await record.failed(error);
		}
		const submittedTo = ctx.comfy.client(server);
		if (!submittedTo) throw new ComfyUiError('bad_response', `The pool placed the job on ${server}, which it does not list`, { server });
		client = submittedTo;
		try {
			await record.running(server);
		} catch (error) {
			// Nobody could record the outcome: take the job back off the server rather than let it run unseen.
			await client.cancel(executionId).catch(() => undefined);
			throw error;
		}
	}

	if (!wait && !result) {
		return [{ json: { ...base, server: client.server, status: 'submitted' } }];
	}
	if (!result) {
		try {
			result = await client.waitForCompletion(executionId, { timeoutMs: options.timeout * 1000, signal: ctx.signal });
		} catch (error) {
			throw await record.failed(error);
		}
	}

	const files = selectOutputFiles(result.outputs, options.outputs);
	const delivery = options.download ? await deliverFiles(this, client, files, ctx.signal) : { files: describeFiles(files) };
	// The job succeeded on ComfyUI even if a download failed: record it so, with what is known of its files.
	await record.succeeded(result.timings.durationMs, delivery.files, tracking.galleryId);
	if (delivery.error) throw delivery.error;

	const json: IDataObject = {
		...base,
		status: 'succeeded',
		server: result.server,
		durationMs: result.timings.durationMs,
		...(Object.keys(result.texts).length > 0 ? { texts: result.texts } : {}),
		...(result.warnings.length > 0 ? { comfyWarnings: result.warnings as unknown as IDataObject[] } : {}),
	};
	return buildOutputItems(json, delivery.files, options.outputMode, options.binaryPropertyName);
}
