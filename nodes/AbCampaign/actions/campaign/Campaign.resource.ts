import type { INodeProperties } from 'n8n-workflow';

import * as assign from './assign.operation';
import * as complete from './complete.operation';
import * as create from './create.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as pause from './pause.operation';
import * as promote from './promote.operation';
import * as results from './results.operation';
import * as start from './start.operation';

export { assign, complete, create, get, getAll, pause, promote, results, start };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['campaign'] } },
		options: [
			{
				name: 'Assign',
				value: 'assign',
				description: 'Give a user (unit) their variant: always the same one for the same unit',
				action: 'Assign a unit to a variant',
			},
			{
				name: 'Complete',
				value: 'complete',
				description: 'End a campaign without promoting a winner',
				action: 'Complete a campaign',
			},
			{
				name: 'Create',
				value: 'create',
				description: 'Create a campaign comparing template versions (starts as a draft)',
				action: 'Create a campaign',
			},
			{
				name: 'Get',
				value: 'get',
				description: 'Get a campaign with its variants',
				action: 'Get a campaign',
			},
			{
				name: 'Get Many',
				value: 'getAll',
				description: 'List campaigns, optionally by status',
				action: 'Get many campaigns',
			},
			{
				name: 'Pause',
				value: 'pause',
				description: 'Stop assigning variants: everyone gets the control until started again',
				action: 'Pause a campaign',
			},
			{
				name: 'Promote',
				value: 'promote',
				description: "Move the winning version's production label and complete the campaign",
				action: 'Promote the winner of a campaign',
			},
			{
				name: 'Results',
				value: 'results',
				description: 'Per-variant metrics, chance to beat control, SRM check and the decision',
				action: 'Get the results of a campaign',
			},
			{
				name: 'Start',
				value: 'start',
				description: 'Start (or resume) assigning variants',
				action: 'Start a campaign',
			},
		],
		default: 'assign',
	},
	...assign.description,
	...complete.description,
	...create.description,
	...get.description,
	...getAll.description,
	...pause.description,
	...promote.description,
	...results.description,
	...start.description,
];
