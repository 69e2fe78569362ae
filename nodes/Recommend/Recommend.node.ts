import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { router } from './actions/router';
import { versionDescription } from './actions/versionDescription';
import { listSearch, loadOptions, promptLabPostgresConnectionTest } from './methods';

export class Recommend implements INodeType {
	description: INodeTypeDescription = versionDescription;

	methods = {
		listSearch,
		loadOptions,
		credentialTest: { promptLabPostgresConnectionTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
