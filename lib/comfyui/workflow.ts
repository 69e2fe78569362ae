import { parseApiWorkflow, UI_FORMAT_MESSAGE, type ApiNode, type ApiWorkflow } from '../templates/workflow';

export type { ApiNode, ApiWorkflow };
export { UI_FORMAT_MESSAGE };

/**
 * Accepts an API-format workflow (object or JSON text, or a POST /prompt body wrapping it) and
 * refuses everything else before it reaches ComfyUI, which would answer the UI format with a bare
 * 500 or an unrelated 400. It is lib/templates' parseApiWorkflow: one definition of "UI format"
 * for the whole package, so the failure has one code whoever finds it (`workflow_ui_format` or
 * `workflow_invalid`, field `workflow`; ComfyUI's own 400 for a UI-format body maps to the same
 * code in errors.ts). Returns a deep copy.
 */
export function ensureApiWorkflow(input: unknown): ApiWorkflow {
	return parseApiWorkflow(input);
}

/** Root folder of per-run outputs inside ComfyUI's output directory. */
const RUN_PREFIX_ROOT = 'promptlab';

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
