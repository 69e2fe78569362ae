import { updateDisplayOptions, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import { PromptLabError } from '../../../../lib/db/errors';
import { getTemplate, resolveVersion } from '../../../../lib/db/templates';
import { renderTemplate } from '../../../../lib/templates';
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

export async function execute(this: IExecuteFunctions, pool: Pool, i: number) {
	const template = await getTemplate(pool, readTemplateRef(this, i));
	const { version, resolvedBy } = await resolveVersion(pool, template, readVersionSelector(this, i));
	const values = parseJsonParameter(this.getNodeParameter('values', i, '{}'), 'values', 'Variable Values') ?? {};
	if (typeof values !== 'object' || values === null || Array.isArray(values)) {
		throw new PromptLabError('Variable Values must be a JSON object such as {"product": "sneaker"}', 'values');
	}
	const rendered = renderTemplate({
		positivePrompt: version.positivePrompt,
		negativePrompt: version.negativePrompt,
		workflow: version.workflow,
		variables: version.variables,
		values: values as Record<string, unknown>,
	});
	const options = this.getNodeParameter('options', i, {}) as { expectedChecksum?: string };
	const expected = options.expectedChecksum?.trim();
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
		...(expected ? { workflowChanged: expected !== version.workflowChecksum } : {}),
	};
}
