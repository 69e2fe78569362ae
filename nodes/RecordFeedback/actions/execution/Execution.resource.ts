import type { INodeProperties } from 'n8n-workflow';

import * as log from './log.operation';

export { log };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['execution'] } },
		options: [
			{
				name: 'Log',
				value: 'log',
				description:
					'Record a run that did not go through ComfyUI (e.g. an OpenAI or Ollama node rendering a text template), to rate it later',
				action: 'Log an execution',
			},
		],
		default: 'log',
	},
	...log.description,
];
