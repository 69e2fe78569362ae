import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getTemplateVersion } from '../../../../lib/templates';
import { templateRLC, versionSelectorFields } from '../../../shared/descriptions';
import { readTemplateLocator, readVersionSelection } from '../../../shared/parameters';
import { templateToJson, versionToJson } from '../common';

const properties: INodeProperties[] = [templateRLC, ...versionSelectorFields(undefined)];

export const description = updateDisplayOptions({ show: { resource: ['template'], operation: ['get'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const { template, version, resolvedBy } = await getTemplateVersion(pool, {
		template: readTemplateLocator(this, i),
		...readVersionSelection(this, i),
	});
	return { ...templateToJson(template), version: versionToJson(version), resolvedBy };
}
