import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getTemplate, listVersions } from '../../../../lib/db/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateRef } from '../../../shared/parameters';
import { versionToJson } from '../common';

const properties: INodeProperties[] = [
	templateRLC,
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: false,
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
		displayOptions: { show: { returnAll: [false] } },
	},
];

export const description = updateDisplayOptions({ show: { resource: ['version'], operation: ['getAll'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const template = await getTemplate(pool, readTemplateRef(this, i));
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const limit = returnAll ? Math.max(template.latestVersion, 1) : Math.max(1, Number(this.getNodeParameter('limit', i, 50)));
	const versions = await listVersions(pool, template, { limit, offset: 0 });
	return versions.map((v) => ({ ...versionToJson(v), templateName: template.name }));
}
