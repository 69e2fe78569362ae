import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { refreshSimilarities, type RefreshOptions } from '../../../../lib/recommendations';

const properties: INodeProperties[] = [
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Minimum Co-Raters',
				name: 'minCoRaters',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 2,
				description: 'Two templates are only compared when at least this many users rated both',
			},
			{
				displayName: 'Neighbours per Template',
				name: 'neighborsPerTemplate',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 200 },
				default: 50,
				description: 'Most similar templates kept per template from ratings',
			},
			{
				displayName: 'Ratings per User',
				name: 'maxRatingsPerUser',
				type: 'number',
				typeOptions: { minValue: 2 },
				default: 50,
				description: "Only each user's most recently rated templates count (bounds the work on large data)",
			},
			{
				displayName: 'Similarity',
				name: 'similarity',
				type: 'options',
				options: [
					{ name: 'Co-Liking (Cosine of Users Rating 4–5)', value: 'cooccurrence' },
					{ name: 'Adjusted Cosine (Mean-Centred Ratings)', value: 'adjusted_cosine' },
				],
				default: 'cooccurrence',
			},
			{
				displayName: 'Tag Neighbours per Template',
				name: 'contentNeighborsPerTemplate',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 200 },
				default: 20,
				description: 'Most similar templates by tags and category kept per template (new templates have no ratings yet)',
			},
			{
				displayName: 'Tag/Category Weight',
				name: 'contentWeight',
				type: 'number',
				typeOptions: { minValue: 0, numberPrecision: 3 },
				default: 0.1,
				description: 'Weight of tag/category similarity next to rating similarity',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['refreshSimilarities'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const options = this.getNodeParameter('options', i, {}) as RefreshOptions;
	const result = await refreshSimilarities(pool, options);
	return JSON.parse(JSON.stringify(result));
}
