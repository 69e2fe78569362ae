import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getTemplate, listVersions } from '../../../../lib/db/templates';
import { returnAllOrLimitFields, templateRLC } from '../../../shared/descriptions';
import { readTemplateRef } from '../../../shared/parameters';
import { versionToJson } from '../common';

const properties: INodeProperties[] = [
	templateRLC,
	...returnAllOrLimitFields,
];

export const description = updateDisplayOptions({ show: { resource: ['version'], operation: ['getAll'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const template = await getTemplate(pool, readTemplateRef(this, i));
	const returnAll = this.getNodeParameter('returnAll', i, false) as boolean;
	const limit = returnAll ? Math.max(template.latestVersion, 1) : Math.max(1, Number(this.getNodeParameter('limit', i, 50)));
	const versions = await listVersions(pool, template, { limit, offset: 0 });
	return versions.map((v) => ({ ...versionToJson(v), templateName: template.name }));
}
