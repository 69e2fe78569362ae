import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

import { executePerItem, lazily } from '../../shared/execute';
import { promptLabPool } from '../../shared/postgres';
import { FIELD_LABELS, type OperationModule } from './common';
import * as recommendation from './recommendation/Recommendation.resource';

const operations: Record<string, Record<string, OperationModule>> = {
	recommendation: {
		forUser: recommendation.forUser,
		popular: recommendation.popular,
		refreshSimilarities: recommendation.refreshSimilarities,
		similar: recommendation.similar,
	},
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const resource = this.getNodeParameter('resource', 0, 'recommendation') as string;
	const operation = this.getNodeParameter('operation', 0) as string;
	const op = operations[resource]?.[operation];
	if (!op) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	// Awaited per item: a bad credential fails each item like any other error (Continue On Fail).
	const pool = lazily(promptLabPool.call(this));
	return [await executePerItem(this, async (i) => op.execute.call(this, await pool, i), { labels: FIELD_LABELS })];
}
