import type { INode, NodeOperationError } from 'n8n-workflow';

import { describeNodeError, isComfyUiError } from '../../../lib/comfyui';
import { toNodeError, type FieldLabels } from '../../shared/errors';

/**
 * Any error of an item → NodeOperationError, through the one adapter (toNodeError) like every
 * PromptLab node: the title is the error's message, which for ComfyUI errors already names the
 * first ComfyUI node (id, class_type, input); the description then lists the other node errors
 * and where the job was (server, prompt id) after the hint. The error item (errorItemJson) carries
 * code, field and the details (nodeErrors, promptId, executionId, server, cancelAction).
 */
export function toComfyNodeError(node: INode, error: unknown, itemIndex: number, labels: FieldLabels): NodeOperationError {
	const nodeError = toNodeError(node, error, itemIndex, labels);
	if (!isComfyUiError(error)) return nodeError;
	const lines = error.nodeErrors.map(describeNodeError).filter((line) => !error.message.includes(line));
	if (error.server || error.promptId) {
		lines.push(`ComfyUI${error.server ? ` server ${error.server}` : ''}${error.promptId ? `, prompt id ${error.promptId}` : ''}.`);
	}
	if (lines.length > 0) nodeError.description = [nodeError.description, ...lines].filter(Boolean).join('\n');
	return nodeError;
}
