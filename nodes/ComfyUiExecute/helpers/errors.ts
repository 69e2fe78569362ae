import { NodeOperationError, type IDataObject, type INode } from 'n8n-workflow';

import { describeNodeError, isComfyUiError, type ComfyUiError } from '../../../lib/comfyui';
import { toNodeError, type FieldLabels } from '../../shared/errors';
import { defaultErrorJson } from '../../shared/execute';

const MAX_TITLE = 400;

function clip(text: string, max: number): string {
	return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** ComfyUiError's message without the hint the constructor appended (the hint goes to the description). */
function messageLines(error: ComfyUiError): string[] {
	const message = error.hint ? error.message.replace(`\n${error.hint}`, '') : error.message;
	return message
		.split('\n')
		.map((line) => line.trim())
		.filter((line) => line.length > 0);
}

/**
 * A ComfyUiError as the n8n error a user reads: the title says what failed and names the first
 * ComfyUI node (id, class_type, input); the description lists every node error, then the hint,
 * then where the job was (server, prompt id). The error's JSON (code, nodeErrors, cancelAction...)
 * rides along in `context.comfyUi` for error workflows.
 */
export function comfyUiNodeError(
	node: INode,
	error: ComfyUiError,
	itemIndex: number,
	labels: FieldLabels,
	workflowField?: string,
): NodeOperationError {
	const lines = messageLines(error);
	let title = lines[0] ?? `ComfyUI error (${error.code})`;
	const [first, ...others] = error.nodeErrors;
	if (first && !new RegExp(`\\bnode ${first.nodeId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i').test(title)) {
		title = `${title}: ${describeNodeError(first)}${others.length ? ` (and ${others.length} more)` : ''}`;
	}
	const fieldLabel = workflowField ? labels[workflowField] ?? workflowField : undefined;
	if (error.code === 'ui_format' && fieldLabel) {
		title = `The "${fieldLabel}" field holds ComfyUI's UI (editor) format, not the API format`;
	}
	const description: string[] = [];
	const detailLines = error.nodeErrors.length > 0 ? error.nodeErrors.map(describeNodeError) : lines.slice(1);
	for (const line of detailLines) if (!title.includes(line)) description.push(line);
	if (error.hint) description.push(error.hint);
	if ((error.code === 'ui_format' || (error.code === 'validation' && !error.server)) && fieldLabel) {
		description.push(`Check the "${fieldLabel}" field.`);
	}
	if (error.server || error.promptId) {
		description.push(
			`ComfyUI${error.server ? ` server ${error.server}` : ''}${error.promptId ? `, prompt id ${error.promptId}` : ''}.`,
		);
	}
	const nodeError = new NodeOperationError(node, clip(title, MAX_TITLE), {
		itemIndex,
		description: description.join('\n') || undefined,
	});
	nodeError.context.comfyUi = error.toJSON() as IDataObject;
	return nodeError;
}

/** Any error of an item → NodeOperationError (ComfyUI errors specially, the rest like every PromptLab node). */
export function toComfyNodeError(
	node: INode,
	error: unknown,
	itemIndex: number,
	labels: FieldLabels,
	workflowField?: string,
): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	if (isComfyUiError(error)) return comfyUiNodeError(node, error, itemIndex, labels, workflowField);
	return toNodeError(node, error, itemIndex, labels);
}

/** The json of a "Continue On Fail" error item: the message a person reads plus the machine-readable parts. */
export function errorItemJson(nodeError: NodeOperationError): IDataObject {
	const json = defaultErrorJson(nodeError);
	const comfy = nodeError.context.comfyUi as IDataObject | undefined;
	if (comfy) {
		json.code = comfy.code;
		if (comfy.promptId) {
			json.promptId = comfy.promptId;
			json.executionId = comfy.promptId;
		}
		if (comfy.server) json.server = comfy.server;
		if (Array.isArray(comfy.nodeErrors) && comfy.nodeErrors.length > 0) json.nodeErrors = comfy.nodeErrors;
		if (comfy.cancelAction) json.cancelAction = comfy.cancelAction;
	}
	return json;
}
