import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { getTemplateStats } from '../../../../lib/db/feedback';
import { getTemplate, resolveVersion } from '../../../../lib/db/templates';
import { templateRLC, versionSelectorFields } from '../../../shared/descriptions';
import { readTemplateRef, readVersionSelector } from '../../../shared/parameters';

const properties: INodeProperties[] = [
	templateRLC,
	{
		displayName: 'Stats For',
		name: 'scope',
		type: 'options',
		options: [
			{ name: 'One Version', value: 'version', description: 'The version at a label, or a version number' },
			{ name: 'All Versions', value: 'template', description: 'Totals over every version of the template' },
		],
		default: 'version',
	},
	...versionSelectorFields({ show: { scope: ['version'] } }),
];

export const description = updateDisplayOptions({ show: { resource: ['feedback'], operation: ['getStats'] } }, properties);

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const template = await getTemplate(pool, readTemplateRef(this, i));
	const base = { templateId: template.id, templateName: template.name, kind: template.kind };
	if (this.getNodeParameter('scope', i, 'version') === 'template') {
		const stats = await getTemplateStats(pool, { templateId: template.id });
		return { ...base, version: null, resolvedBy: 'allVersions', ...stats };
	}
	const { version, resolvedBy } = await resolveVersion(pool, template, readVersionSelector(this, i));
	const stats = await getTemplateStats(pool, { versionId: version.id });
	return { ...base, version: version.version, resolvedBy, ...stats };
}
