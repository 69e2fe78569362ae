import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { MAX_COMMENT_LENGTH, recordFeedback } from '../../../../lib/feedback';
import { feedbackResultToJson } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Find Execution By',
		name: 'findBy',
		type: 'options',
		options: [
			{
				name: 'Execution ID',
				value: 'executionId',
				description: 'The ID returned by ComfyUI Execute or by Log Execution',
			},
			{
				name: 'ComfyUI Prompt ID',
				value: 'promptId',
				description: 'The prompt_id ComfyUI reported for the generation',
			},
		],
		default: 'executionId',
	},
	{
		displayName: 'Execution ID',
		name: 'executionId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. {{ $json.executionId }}',
		description: 'UUID of the execution being rated',
		displayOptions: { show: { findBy: ['executionId'] } },
	},
	{
		displayName: 'ComfyUI Prompt ID',
		name: 'promptId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. {{ $json.promptId }}',
		displayOptions: { show: { findBy: ['promptId'] } },
	},
	{
		displayName: 'Rating',
		name: 'rating',
		type: 'number',
		required: true,
		typeOptions: { minValue: 1, maxValue: 5, numberPrecision: 0 },
		default: 5,
		description: 'Whole number from 1 (bad) to 5 (great). Ratings of 4 and 5 count as good in campaigns.',
	},
	{
		displayName: 'User ID',
		name: 'userId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. {{ $json.body.userId }}',
		description: 'Who rates. A later rating by the same user on the same execution replaces the earlier one.',
	},
	{
		displayName: 'Comment',
		name: 'comment',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		description: `Optional free text, at most ${MAX_COMMENT_LENGTH} characters`,
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Asynchronous Commit',
				name: 'asyncCommit',
				type: 'boolean',
				default: false,
				description:
					'Whether to acknowledge the rating before Postgres has flushed it to disk. Faster on slow disks; a Postgres crash can then lose the last few hundred milliseconds of ratings (the aggregates always stay consistent with the stored ratings).',
			},
			{
				displayName: 'Idempotency Key',
				name: 'idempotencyKey',
				type: 'string',
				default: '',
				placeholder: 'e.g. {{ $json.body.deliveryId }}',
				description:
					'A key unique to this rating request (a webhook delivery ID). Sending it again changes nothing, even after the user re-rated. Without a key, resending the same rating and comment is recognised as a duplicate.',
			},
			{
				displayName: 'Source',
				name: 'source',
				type: 'string',
				default: '',
				placeholder: 'e.g. webhook, slack, gallery',
				description: 'Where the rating came from (kept with the feedback)',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['feedback'], operation: ['record'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const findBy = this.getNodeParameter('findBy', i, 'executionId') as 'executionId' | 'promptId';
	const options = this.getNodeParameter('options', i, {}) as { idempotencyKey?: unknown; source?: unknown; asyncCommit?: boolean };
	// Validated once, by the use case (lib/feedback/record.ts), before any database work.
	const result = await recordFeedback(
		pool,
		{
			executionId: findBy === 'executionId' ? this.getNodeParameter('executionId', i) : undefined,
			promptId: findBy === 'promptId' ? this.getNodeParameter('promptId', i) : undefined,
			rating: this.getNodeParameter('rating', i),
			userId: this.getNodeParameter('userId', i),
			comment: this.getNodeParameter('comment', i, ''),
			source: options.source,
			idempotencyKey: options.idempotencyKey,
		},
		{ asyncCommit: options.asyncCommit === true },
	);
	return feedbackResultToJson(result);
}
