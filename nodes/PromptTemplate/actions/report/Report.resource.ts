import type { INodeProperties } from 'n8n-workflow';

import * as weekly from './weekly.operation';

export { weekly };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['report'] } },
		options: [
			{
				name: 'Weekly Report',
				value: 'weekly',
				description: 'Use, ratings, failures and generation time per template, and running campaigns',
				action: 'Get the weekly report',
			},
		],
		default: 'weekly',
	},
	...weekly.description,
];
