import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { renderVersion } from '../../../../lib/generation';
import { templateRLC, versionSelectorFields } from '../../../shared/descriptions';
import { parseJsonParameter, readTemplateRef, readVersionSelector } from '../../../shared/parameters';

const properties: INodeProperties[] = [
	templateRLC,
	...versionSelectorFields(undefined),
	{
		displayName: 'Variable Values',
		name: 'values',
		type: 'json',
		default: '{}',
		description:
			'Values for the template variables as a JSON object, e.g. {"product":"red sneaker","seed":42}. Missing, extra or ill-typed values are refused with the variable named.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Expected Workflow Checksum',
				name: 'expectedChecksum',
				type: 'string',
				default: '',
				description:
					'Checksum from an earlier render; the output says whether the template workflow changed since (workflowChanged)',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['template'], operation: ['render'] } }, properties);

/** Render: the template version rendered with the values (lib/generation renderVersion, the rendering Generate uses too). */
export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const options = this.getNodeParameter('options', i, {}) as IDataObject;
	const { template, version, resolvedBy, rendered, workflowChanged } = await renderVersion(pool, {
		template: readTemplateRef(this, i),
		...readVersionSelector(this, i),
		values: parseJsonParameter(this.getNodeParameter('values', i, '{}'), 'values', 'Variable Values'),
		expectedChecksum: options.expectedChecksum,
	});
	return {
		templateId: template.id,
		templateName: template.name,
		kind: template.kind,
		version: version.version,
		versionId: version.id,
		resolvedBy,
		positivePrompt: rendered.positivePrompt,
		negativePrompt: rendered.negativePrompt,
		values: rendered.values,
		workflow: rendered.workflow,
		workflowChecksum: version.workflowChecksum,
		renderedWorkflowChecksum: rendered.renderedWorkflowChecksum,
		...(workflowChanged !== undefined ? { workflowChanged } : {}),
	};
}
