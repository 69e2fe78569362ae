import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { templateStats } from '../../../../lib/feedback';
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
	const scope = this.getNodeParameter('scope', i, 'version') as 'version' | 'template';
	const result = await templateStats(pool, {
		template: readTemplateRef(this, i),
		scope,
		...(scope === 'version' ? readVersionSelector(this, i) : {}),
	});
	const { templateId, ...stats } = result.stats;
	return {
		templateId,
		templateName: result.template.name,
		kind: result.template.kind,
		version: result.version,
		resolvedBy: result.resolvedBy,
		...stats,
	};
}
