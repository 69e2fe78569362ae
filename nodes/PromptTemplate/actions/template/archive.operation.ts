import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { archiveTemplate } from '../../../../lib/templates';
import { templateRLC } from '../../../shared/descriptions';
import { readTemplateLocator } from '../../../shared/parameters';
import { templateToJson } from '../common';

const properties: INodeProperties[] = [
	templateRLC,
	{
		displayName: 'Unarchive',
		name: 'unarchive',
		type: 'boolean',
		default: false,
		description: 'Whether to restore an archived template instead of archiving it',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['template'], operation: ['archive'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const unarchive = this.getNodeParameter('unarchive', i, false) as boolean;
	return templateToJson(await archiveTemplate(pool, { template: readTemplateLocator(this, i), archived: !unarchive }));
}
