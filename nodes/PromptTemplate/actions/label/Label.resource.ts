import type { INodeProperties } from 'n8n-workflow';

import * as getHistory from './getHistory.operation';
import * as rollback from './rollback.operation';
import * as set from './set.operation';

export { getHistory, rollback, set };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['label'] } },
		options: [
			{
				name: 'Get History',
				value: 'getHistory',
				description: 'List every move of a label, newest first',
				action: 'Get label history',
			},
			{
				name: 'Rollback',
				value: 'rollback',
				description: 'Move a label back to the version it pointed to before its last move',
				action: 'Rollback a label',
			},
			{
				name: 'Set',
				value: 'set',
				description: 'Point a label (e.g. production) at a version',
				action: 'Set a label',
			},
		],
		default: 'set',
	},
	...getHistory.description,
	...rollback.description,
	...set.description,
];
