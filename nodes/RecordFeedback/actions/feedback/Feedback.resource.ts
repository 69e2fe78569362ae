import type { INodeProperties } from 'n8n-workflow';

import * as getStats from './getStats.operation';
import * as record from './record.operation';

export { getStats, record };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['feedback'] } },
		options: [
			{
				name: 'Get Stats',
				value: 'getStats',
				description: 'Rating and run statistics of a template version (or of all its versions)',
				action: 'Get template stats',
			},
			{
				name: 'Record',
				value: 'record',
				description: 'Record a 1–5 rating of an execution; retries with the same idempotency key count once',
				action: 'Record feedback',
			},
		],
		default: 'record',
	},
	...record.description,
	...getStats.description,
];
