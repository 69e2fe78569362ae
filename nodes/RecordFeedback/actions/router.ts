import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { routePostgresOperation, type PostgresOperations } from '../../shared/router';
import { FIELD_LABELS } from './common';
import * as execution from './execution/Execution.resource';
import * as feedback from './feedback/Feedback.resource';

const operations: PostgresOperations = {
	feedback: { record: feedback.record, getStats: feedback.getStats },
	execution: { log: execution.log },
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return routePostgresOperation(this, operations, FIELD_LABELS);
}
