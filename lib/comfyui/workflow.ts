import { isTemplateError } from '../templates/errors';
import { parseApiWorkflow, UI_FORMAT_MESSAGE, type ApiNode, type ApiWorkflow } from '../templates/workflow';
import { ComfyUiError } from './errors';

export type { ApiNode, ApiWorkflow };
export { UI_FORMAT_MESSAGE };

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Accepts an API-format workflow (object or JSON text, or a POST /prompt body wrapping it) and
 * rejects everything else before it reaches ComfyUI, which would answer the UI format with a bare
 * 500 or an unrelated 400. Detection is lib/templates' parseApiWorkflow (one definition of "UI
 * format" for the whole package); its TemplateErrors become ComfyUiErrors: 'ui_format' with the
 * export instructions, 'validation' naming the node. Returns a deep copy.
 */
export function ensureApiWorkflow(input: unknown): ApiWorkflow {
	try {
		return parseApiWorkflow(input);
	} catch (error) {
		if (!isTemplateError(error)) throw error;
		if (error.code === 'ui_format_workflow') {
			throw new ComfyUiError('ui_format', "The workflow is in ComfyUI's UI format, not the API format.", {
				hint: UI_FORMAT_MESSAGE,
				cause: error,
			});
		}
		const node = error.field && isPlainObject(input) ? input[error.field] : undefined;
		const classType = isPlainObject(node) && typeof node.class_type === 'string' ? node.class_type : '?';
		throw new ComfyUiError('validation', error.message, {
			cause: error,
			nodeErrors: error.field ? [{ nodeId: error.field, classType, message: error.message }] : [],
		});
	}
}

/** Root folder of per-run outputs inside ComfyUI's output directory. */
export const RUN_PREFIX_ROOT = 'promptlab';

export interface PrefixedWorkflow {
	workflow: ApiWorkflow;
	/** `promptlab/<promptId>`: the subfolder every save node of this run writes into. */
	runFolder: string;
	/** Ids of the nodes whose filename_prefix was rewritten. */
	rewrittenNodes: string[];
}

/**
 * Rewrites every literal `filename_prefix` input (SaveImage, SaveAnimatedWEBP, SaveVideo, SaveAudio,
 * VHS_VideoCombine, ...) to `promptlab/<promptId>/<original>`. Concurrent runs then never write the
 * same file, and a file outside this run's folder is recognisably an earlier (cached) output.
 * The input workflow is not modified.
 */
export function withRunFilenamePrefix(workflow: ApiWorkflow, promptId: string, root = RUN_PREFIX_ROOT): PrefixedWorkflow {
	const runFolder = `${root}/${promptId}`;
	const rewrittenNodes: string[] = [];
	const result: ApiWorkflow = {};
	for (const [nodeId, node] of Object.entries(workflow)) {
		const prefix = node.inputs?.filename_prefix;
		if (typeof prefix === 'string') {
			// A leading slash or ".." would make ComfyUI refuse to save outside its output folder.
			const original = prefix.replace(/^[/\\]+/, '').replace(/(^|[/\\])\.\.(?=[/\\]|$)/g, '$1_') || 'ComfyUI';
			result[nodeId] = { ...node, inputs: { ...node.inputs, filename_prefix: `${runFolder}/${original}` } };
			rewrittenNodes.push(nodeId);
		} else {
			result[nodeId] = node;
		}
	}
	return { workflow: result, runFolder, rewrittenNodes };
}
