import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { router } from './actions/router';
import { versionDescription } from './actions/versionDescription';
import { getCategories, getLabels, searchTemplates } from '../shared/methods';
import { promptLabPostgresConnectionTest } from '../shared/postgres';

export class PromptTemplate implements INodeType {
	description: INodeTypeDescription = versionDescription;

	methods = {
		listSearch: { searchTemplates },
		loadOptions: { getCategories, getLabels },
		credentialTest: { promptLabPostgresConnectionTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
