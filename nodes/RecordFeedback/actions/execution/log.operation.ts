import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { logExecution } from '../../../../lib/feedback';
import { templateRLC, versionSelectorFields } from '../../../shared/descriptions';
import { readTemplateRef, readVersionSelector } from '../../../shared/parameters';

const properties: INodeProperties[] = [
	templateRLC,
	...versionSelectorFields(undefined),
	{
		displayName: 'Status',
		name: 'status',
		type: 'options',
		options: [
			{ name: 'Cancelled', value: 'cancelled' },
			{ name: 'Failed', value: 'failed' },
			{ name: 'Succeeded', value: 'succeeded' },
		],
		default: 'succeeded',
	},
	{
		displayName: 'Output Text',
		name: 'output',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '',
		placeholder: 'e.g. {{ $json.message.content }}',
		description: 'What the model produced (stored with the execution)',
	},
	{
		displayName: 'Error Message',
		name: 'errorMessage',
		type: 'string',
		default: '',
		description: 'Why the run failed; the weekly report groups failures by this message',
		displayOptions: { show: { status: ['failed'] } },
	},
	{
		displayName: 'User ID',
		name: 'userId',
		type: 'string',
		default: '',
		description: 'The end user the output was made for (the unit of a campaign)',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Campaign ID',
				name: 'campaignId',
				type: 'string',
				default: '',
				description: 'Campaign the run belongs to (from the A/B Campaign node)',
			},
			{
				displayName: 'Duration (Ms)',
				name: 'durationMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'How long the model took, in milliseconds',
			},
			{
				displayName: 'Execution ID',
				name: 'executionId',
				type: 'string',
				default: '',
				description:
					'UUID to store the run under; generated when empty. Pass one to make retries idempotent: logging the same ID again returns the stored run.',
			},
			{
				displayName: 'Prompt Sent',
				name: 'renderedPrompt',
				type: 'string',
				typeOptions: { rows: 3 },
				default: '',
				description: 'The rendered prompt given to the model (e.g. the Prompt Template node\'s positivePrompt)',
			},
			{
				displayName: 'Variant ID',
				name: 'variantId',
				type: 'string',
				default: '',
				description: 'Campaign variant the user was assigned. The version then comes from the variant, not from the version selection.',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['execution'], operation: ['log'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const options = this.getNodeParameter('options', i, {}) as Record<string, unknown>;
	const status = this.getNodeParameter('status', i) as 'succeeded' | 'failed' | 'cancelled';
	// Validated once, by the use case (lib/feedback/log-execution.ts).
	const { execution, alreadyLogged, template, resolvedBy } = await logExecution(pool, {
		template: readTemplateRef(this, i),
		...readVersionSelector(this, i),
		status,
		output: this.getNodeParameter('output', i, '') as string,
		errorMessage: status === 'failed' ? (this.getNodeParameter('errorMessage', i, '') as string) : undefined,
		userId: this.getNodeParameter('userId', i, '') as string,
		campaignId: options.campaignId,
		variantId: options.variantId,
		executionId: options.executionId,
		durationMs: options.durationMs as number | undefined,
		renderedPrompt: options.renderedPrompt as string | undefined,
		n8nExecutionId: this.getExecutionId(),
	});
	return {
		executionId: execution.id,
		status: execution.status,
		alreadyLogged,
		templateId: template.id,
		templateName: template.name,
		version: execution.version,
		versionId: execution.versionId,
		resolvedBy,
		userId: execution.userId,
		campaignId: execution.campaignId,
		variantId: execution.variantId,
		durationMs: execution.durationMs,
		createdAt: execution.createdAt,
		finishedAt: execution.finishedAt,
	};
}
