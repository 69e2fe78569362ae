import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { listTemplateVersions } from '../../../../lib/templates';
import { returnAllOrLimitFields, templateRLC } from '../../../shared/descriptions';
import { readTemplateLocator } from '../../../shared/parameters';
import { versionToJson } from '../common';

const properties: INodeProperties[] = [
	templateRLC,
	...returnAllOrLimitFields,
];

export const description = updateDisplayOptions({ show: { resource: ['version'], operation: ['getAll'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const { template, versions } = await listTemplateVersions(pool, {
		template: readTemplateLocator(this, i),
		returnAll,
		...(returnAll ? {} : { limit: this.getNodeParameter('limit', i, 50) as number }),
	});
	return versions.map((v) => ({ ...versionToJson(v), templateName: template.name }));
}
