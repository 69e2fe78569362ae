import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

import { executePerItem, lazily } from '../../shared/execute';
import { promptLabPool } from '../../shared/postgres';
import * as campaign from './campaign/Campaign.resource';
import { FIELD_LABELS, type OperationModule } from './common';

const operations: Record<string, Record<string, OperationModule>> = {
	campaign: {
		assign: campaign.assign,
		complete: campaign.complete,
		create: campaign.create,
		get: campaign.get,
		getAll: campaign.getAll,
		pause: campaign.pause,
		promote: campaign.promote,
		results: campaign.results,
		start: campaign.start,
	},
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const resource = this.getNodeParameter('resource', 0, 'campaign') as string;
	const operation = this.getNodeParameter('operation', 0) as string;
	const op = operations[resource]?.[operation];
	if (!op) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	// Awaited per item: a bad credential fails each item like any other error (Continue On Fail).
	const pool = lazily(promptLabPool.call(this));
	return [await executePerItem(this, async (i) => op.execute.call(this, await pool, i), { labels: FIELD_LABELS })];
}
