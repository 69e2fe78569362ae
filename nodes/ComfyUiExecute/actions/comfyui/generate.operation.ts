import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';

import { generate, parallelItemsInput } from '../../../../lib/generation';
import { templateRLC, versionSelectorFields } from '../../../shared/descriptions';
import { parseJsonParameter, readTemplateRef, readVersionSelector } from '../../../shared/parameters';
import { buildOutputItems, deliverer } from '../../helpers/outputs';
import type { OperationContext } from '../common';
import { outputFields, readOutputOptions, trackingCollection } from './shared';

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
			{
				displayName: 'Max Jobs in Flight per User',
				name: 'maxJobsInFlightPerUser',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description:
					'Most jobs of one user (Tracking → User ID) queued or running at once, counted across all n8n workers. Over it the item fails with code quota_exceeded (HTTP 429, retryAfterSeconds) and nothing is sent to ComfyUI. 0 = no limit. Needs the User ID and the PromptLab Postgres credential.',
			},
			{
				displayName: 'Max Jobs per Day per User',
				name: 'maxJobsPerDayPerUser',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description:
					'Most jobs of one user (Tracking → User ID) started per day (UTC), counted across all n8n workers. Over it the item fails with code quota_exceeded (HTTP 429, retryAfterSeconds until midnight UTC) and nothing is sent to ComfyUI. 0 = no limit. Needs the User ID and the PromptLab Postgres credential.',
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

/** Parallel Items of the node (read once, from the first item: it shapes the whole run). */
export function parallelItems(ctx: IExecuteFunctions): number {
	const options = ctx.getNodeParameter('options', 0, {}) as IDataObject;
	return parallelItemsInput.parse({ parallelItems: options.parallelItems }).parallelItems;
}

/** The node's parameters of item i as the Generate use case's input (validated there, once). */
function readInput(ctx: IExecuteFunctions, i: number): IDataObject {
	const options = ctx.getNodeParameter('options', i, {}) as IDataObject;
	const job = {
		overrides: ctx.getNodeParameter('overrides', i, {}) as IDataObject,
		waitForCompletion: ctx.getNodeParameter('waitForCompletion', i, true) as boolean,
		executionId: options.executionId,
		timeout: options.timeout,
		parallelItems: options.parallelItems,
		outputs: options.outputs,
		maxJobsInFlightPerUser: options.maxJobsInFlightPerUser,
		maxJobsPerDayPerUser: options.maxJobsPerDayPerUser,
		...(ctx.getNodeParameter('tracking', i, {}) as IDataObject),
	};
	if (ctx.getNodeParameter('source', i, 'template') === 'workflow') {
		return { source: 'workflow', workflow: ctx.getNodeParameter('workflow', i, ''), ...job };
	}
	return {
		source: 'template',
		template: readTemplateRef(ctx, i) as IDataObject,
		...(readVersionSelector(ctx, i) as IDataObject),
		values: parseJsonParameter(ctx.getNodeParameter('values', i, '{}'), 'values', 'Variable Values') as IDataObject,
		...job,
	};
}

export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<INodeExecutionData[]> {
	const output = readOutputOptions(this.getNodeParameter('options', i, {}) as IDataObject);
	const outcome = await generate(ctx, readInput(this, i), {
		callerRunId: this.getExecutionId(),
		deliver: deliverer(this, output.download, ctx.signal),
	});
	const json: IDataObject = { ...outcome.summary, server: outcome.server, status: outcome.status };
	if (outcome.summary.warnings) {
		this.addExecutionHints(...outcome.summary.warnings.map((message) => ({ message, location: 'outputPane' as const })));
	}
	if (outcome.status === 'submitted') return [{ json }];
	json.durationMs = outcome.durationMs;
	if (Object.keys(outcome.texts).length > 0) json.texts = outcome.texts;
	if (outcome.comfyWarnings.length > 0) json.comfyWarnings = outcome.comfyWarnings as unknown as IDataObject[];
	return buildOutputItems(json, outcome.files, output.outputMode, output.binaryPropertyName);
}
