import type { INodeProperties } from 'n8n-workflow';

import * as forUser from './forUser.operation';
import * as popular from './popular.operation';
import * as refreshSimilarities from './refreshSimilarities.operation';
import * as similar from './similar.operation';

export { forUser, popular, refreshSimilarities, similar };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['recommendation'] } },
		options: [
			{
				name: 'For User',
				value: 'forUser',
				description: "Templates a user is likely to rate well, from their ratings; popular ones for new users",
				action: 'Recommend templates for a user',
			},
			{
				name: 'Popular',
				value: 'popular',
				description: 'Best-rated templates overall (cold start)',
				action: 'Get popular templates',
			},
			{
				name: 'Refresh Similarities',
				value: 'refreshSimilarities',
				description: 'Recompute the template-to-template similarities from all ratings (schedule it, e.g. nightly)',
				action: 'Refresh template similarities',
			},
			{
				name: 'Similar Templates',
				value: 'similar',
				description: 'Templates similar to a given template',
				action: 'Get similar templates',
			},
		],
		default: 'forUser',
	},
	...forUser.description,
	...popular.description,
	...refreshSimilarities.description,
	...similar.description,
];
