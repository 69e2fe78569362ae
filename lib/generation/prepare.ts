import type { Queryable } from '../db/pool';
import { getTemplate, resolveVersion, type Template, type TemplateVersion } from '../db/templates';
import { ValidationError } from '../errors';
import type { ApiWorkflow } from '../comfyui';
import { parseWorkflowInput, renderTemplate, workflowChecksum, type RenderedTemplate } from '../templates';
import { renderInput, type GenerateRequest, type RenderInput, type RenderRequest } from './input';

export interface RenderedVersion {
	template: Template;
	version: TemplateVersion;
	resolvedBy: 'version' | 'label' | 'latest';
	rendered: RenderedTemplate;
}

type TemplateSelection = Pick<RenderRequest, 'template' | 'version' | 'label' | 'values'>;

/** Load the template, resolve the version (number, label, or production → latest) and render it with the values. */
async function renderSelection(db: Queryable, selection: TemplateSelection): Promise<RenderedVersion> {
	const template = await getTemplate(db, selection.template);
	const selector = selection.version !== undefined ? { version: selection.version } : { label: selection.label };
	const { version, resolvedBy } = await resolveVersion(db, template, selector);
	const rendered = renderTemplate({
		positivePrompt: version.positivePrompt,
		negativePrompt: version.negativePrompt,
		workflow: version.workflow,
		variables: version.variables,
		values: selection.values,
	});
	return { template, version, resolvedBy, rendered };
}

/** The Render use case (Prompt Template → Render): validates its input, then renders the chosen version. */
export async function renderVersion(db: Queryable, input: RenderInput | Record<string, unknown>): Promise<RenderedVersion & { workflowChanged?: boolean }> {
	const request = renderInput.parse(input);
	const result = await renderSelection(db, request);
	return request.expectedChecksum ? { ...result, workflowChanged: request.expectedChecksum !== result.version.workflowChecksum } : result;
}

/** What a job runs, and where it came from. */
export interface PreparedJob {
	workflow: ApiWorkflow;
	/** The template version's workflow checksum, or the raw workflow's. */
	checksum: string;
	template?: { id: string; name: string; version: number; versionId: string };
	renderedPrompt?: { positive: string; negative: string };
	variables?: Record<string, unknown>;
}

/**
 * A job from a template version (rendered exactly as Render renders it) or from a raw API-format
 * workflow. A template needs the PromptLab database.
 */
export async function prepareJob(db: Queryable | undefined, request: GenerateRequest): Promise<PreparedJob> {
	if (request.source === 'workflow') {
		// Strict: a caller's workflow must also hold text Postgres and ComfyUI can take (invalid_text).
		const workflow = parseWorkflowInput(request.workflow);
		return { workflow, checksum: workflowChecksum(workflow) };
	}
	if (!db) {
		throw new ValidationError('invalid_input', 'Source "From Template" reads the template from the PromptLab database, and none is configured', {
			field: 'source',
			hint: 'Add a PromptLab Postgres credential to the node, or use a raw workflow.',
		});
	}
	const { template, version, rendered } = await renderSelection(db, request);
	if (!rendered.workflow) {
		throw new ValidationError(
			'template_has_no_workflow',
			`Template "${template.name}" version ${version.version} has no ComfyUI workflow (a text template)`,
			{ field: 'template', hint: 'Add a version with a workflow, or render it with the Prompt Template node.' },
		);
	}
	return {
		workflow: rendered.workflow,
		checksum: version.workflowChecksum ?? (rendered.workflowChecksum as string),
		template: { id: template.id, name: template.name, version: version.version, versionId: version.id },
		renderedPrompt: { positive: rendered.positivePrompt, negative: rendered.negativePrompt },
		variables: rendered.values as Record<string, unknown>,
	};
}
