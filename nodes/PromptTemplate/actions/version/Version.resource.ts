import type { INodeProperties } from 'n8n-workflow';

import * as create from './create.operation';
import * as diff from './diff.operation';
import * as getAll from './getAll.operation';

export { create, diff, getAll };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['version'] } },
		options: [
			{
				name: 'Create',
				value: 'create',
				description: 'Add a new immutable version to a template',
				action: 'Create a version',
			},
			{
				name: 'Diff',
				value: 'diff',
				description: 'Compare the prompts, variables and workflow of two versions',
				action: 'Diff two versions',
			},
			{
				name: 'Get Many',
				value: 'getAll',
				description: 'List the versions of a template, newest first',
				action: 'Get many versions',
			},
		],
		default: 'create',
	},
	...create.description,
	...diff.description,
	...getAll.description,
];
