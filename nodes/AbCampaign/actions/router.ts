import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { routePostgresOperation, type PostgresOperations } from '../../shared/router';
import { FIELD_LABELS } from './common';
import * as campaign from './campaign/Campaign.resource';

const operations: PostgresOperations = {
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
	return routePostgresOperation(this, operations, FIELD_LABELS);
}
