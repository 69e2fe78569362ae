import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { router } from './actions/router';
import { versionDescription } from './actions/versionDescription';
import { listSearch, promptLabPostgresConnectionTest } from './methods';

export class AbCampaign implements INodeType {
	description: INodeTypeDescription = versionDescription;

	methods = {
		listSearch,
		credentialTest: { promptLabPostgresConnectionTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
