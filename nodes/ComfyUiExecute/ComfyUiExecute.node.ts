import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { router } from './actions/router';
import { versionDescription } from './actions/versionDescription';
import { comfyUiApiConnectionTest, listSearch, loadOptions, promptLabPostgresConnectionTest } from './methods';

export class ComfyUiExecute implements INodeType {
	description: INodeTypeDescription = versionDescription;

	methods = {
		listSearch,
		loadOptions,
		credentialTest: { comfyUiApiConnectionTest, promptLabPostgresConnectionTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
