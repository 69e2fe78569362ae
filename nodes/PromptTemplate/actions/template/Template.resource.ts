import type { INodeProperties } from 'n8n-workflow';

import * as archive from './archive.operation';
import * as create from './create.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as render from './render.operation';

export { archive, create, get, getAll, render };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['template'] } },
		options: [
			{
				name: 'Archive',
				value: 'archive',
				description: 'Archive (or unarchive) a template; its versions stay readable',
				action: 'Archive a template',
			},
			{
				name: 'Create',
				value: 'create',
				description: 'Create a template with its first version',
				action: 'Create a template',
			},
			{
				name: 'Get',
				value: 'get',
				description: 'Get a template at a label or version',
				action: 'Get a template',
			},
			{
				name: 'Get Many',
				value: 'getAll',
				description: 'List and search templates',
				action: 'Get many templates',
			},
			{
				name: 'Render',
				value: 'render',
				description: 'Fill typed variables into the prompts and the ComfyUI workflow',
				action: 'Render a template',
			},
		],
		default: 'render',
	},
	...archive.description,
	...create.description,
	...get.description,
	...getAll.description,
	...render.description,
];
