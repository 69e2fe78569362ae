import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { routePostgresOperation, type PostgresOperations } from '../../shared/router';
import { FIELD_LABELS } from './common';
import * as recommendation from './recommendation/Recommendation.resource';

const operations: PostgresOperations = {
	recommendation: {
		forUser: recommendation.forUser,
		popular: recommendation.popular,
		refreshSimilarities: recommendation.refreshSimilarities,
		similar: recommendation.similar,
	},
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return routePostgresOperation(this, operations, FIELD_LABELS);
}
