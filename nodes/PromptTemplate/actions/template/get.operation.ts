import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getTemplate, resolveVersion } from '../../../../lib/db/templates';
import { templateRLC, versionSelectorFields } from '../../../shared/descriptions';
import { readTemplateRef, readVersionSelector } from '../../../shared/parameters';
import { templateToJson, versionToJson } from '../common';

const properties: INodeProperties[] = [templateRLC, ...versionSelectorFields(undefined)];

export const description = updateDisplayOptions({ show: { resource: ['template'], operation: ['get'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const template = await getTemplate(pool, readTemplateRef(this, i));
	const { version, resolvedBy } = await resolveVersion(pool, template, readVersionSelector(this, i));
	return { ...templateToJson(template), version: versionToJson(version), resolvedBy };
}
