import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { routePostgresOperation, type PostgresOperations } from '../../shared/router';
import { FIELD_LABELS } from './common';
import * as label from './label/Label.resource';
import * as report from './report/Report.resource';
import * as template from './template/Template.resource';
import * as version from './version/Version.resource';

const operations: PostgresOperations = {
	template: { archive: template.archive, create: template.create, get: template.get, getAll: template.getAll, render: template.render },
	version: { create: version.create, diff: version.diff, getAll: version.getAll },
	label: { getHistory: label.getHistory, rollback: label.rollback, set: label.set },
	report: { weekly: report.weekly },
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return routePostgresOperation(this, operations, FIELD_LABELS);
}
