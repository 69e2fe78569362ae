import { PromptLabError, type ErrorCode } from '../errors';
import { UI_FORMAT_MESSAGE } from '../templates/workflow';

/**
 * What the ComfyUI client can report, as codes of the PromptLab catalogue (lib/errors.ts): callers
 * branch on `code`, webhooks answer the HTTP status of its kind. The message is written for the
 * person reading the n8n execution log: one line that names the first ComfyUI node (id,
 * class_type, input) wherever ComfyUI gives us enough; every node error rides along in
 * `nodeErrors` (and `details.nodeErrors`).
 */
export type ComfyUiErrorCode = Extract<
	ErrorCode,
	| 'comfyui_prompt_invalid'
	| 'comfyui_execution_failed'
	| 'comfyui_timeout'
	| 'job_cancelled'
	| 'job_interrupted'
	| 'job_lost'
	| 'comfyui_auth_failed'
	| 'comfyui_payload_too_large'
	| 'comfyui_unreachable'
	| 'comfyui_server_error'
	| 'comfyui_bad_response'
	| 'workflow_ui_format'
>;

/** What the client did on the server when a wait ended early (timeout or cancel). */
export type CancelAction = 'deleted_from_queue' | 'interrupted' | 'already_finished';

export interface ComfyNodeError {
	nodeId: string;
	/** class_type from ComfyUI, or from the submitted workflow when ComfyUI omits it; '?' if unknown. */
	classType: string;
	inputName?: string;
	message: string;
	details?: string;
	/** ComfyUI's error type for validation errors (value_not_in_list, ...) */
	errorType?: string;
	/** Python exception type for execution errors (FileNotFoundError, torch.OutOfMemoryError, ...) */
	exceptionType?: string;
}

export interface ComfyUiErrorOptions {
	server?: string;
	promptId?: string;
	nodeErrors?: ComfyNodeError[];
	cancelAction?: CancelAction;
	/** The HTTP status ComfyUI (or its proxy) answered; not the status PromptLab answers (that is `httpStatus`, from the code). */
	upstreamStatus?: number;
	/** false when the request certainly never reached ComfyUI (connection refused, DNS): safe to send elsewhere. */
	requestSent?: boolean;
	/** What the user can do about it (kept out of the message: n8n shows it as the description). */
	hint?: string;
	/** The input field to change, when the caller's input is at fault (`workflow`). */
	field?: string;
	cause?: unknown;
}

/** Longest message: it is the title of the n8n error; the full node errors stay in `nodeErrors`. */
const MAX_MESSAGE = 400;

function clip(text: string, max: number): string {
	return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function escapeRegExp(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The message (one line: it is the title of the n8n error): the summary, then the first node error
 * unless the summary names that node already (an execution error does), then how many more there are.
 */
function composeMessage(summary: string, nodeErrors: ComfyNodeError[]): string {
	const title = summary.trim();
	const [first, ...others] = nodeErrors;
	if (!first || new RegExp(`\\bnode ${escapeRegExp(first.nodeId)}\\b`, 'i').test(title)) return clip(title, MAX_MESSAGE);
	return clip(`${title}: ${describeNodeError(first)}${others.length ? ` (and ${others.length} more)` : ''}`, MAX_MESSAGE);
}

export class ComfyUiError extends PromptLabError {
	declare readonly code: ComfyUiErrorCode;
	readonly server?: string;
	readonly promptId?: string;
	readonly nodeErrors: ComfyNodeError[];
	readonly cancelAction?: CancelAction;
	readonly upstreamStatus?: number;
	readonly requestSent: boolean;

	constructor(code: ComfyUiErrorCode, message: string, options: ComfyUiErrorOptions = {}) {
		const nodeErrors = options.nodeErrors ?? [];
		// The machine parts travel in details, so error items and the executions.error column carry them.
		const details: Record<string, unknown> = {};
		if (options.server !== undefined) details.server = options.server;
		if (options.promptId !== undefined) details.promptId = options.promptId;
		if (nodeErrors.length > 0) details.nodeErrors = nodeErrors;
		if (options.cancelAction !== undefined) details.cancelAction = options.cancelAction;
		if (options.upstreamStatus !== undefined) details.upstreamStatus = options.upstreamStatus;
		super(code, composeMessage(message, nodeErrors), {
			field: options.field,
			hint: options.hint,
			details: Object.keys(details).length > 0 ? details : undefined,
			cause: options.cause,
		});
		this.server = options.server;
		this.promptId = options.promptId;
		this.nodeErrors = nodeErrors;
		this.cancelAction = options.cancelAction;
		this.upstreamStatus = options.upstreamStatus;
		this.requestSent = options.requestSent ?? true;
	}
}

export function isComfyUiError(error: unknown, code?: ComfyUiErrorCode): error is ComfyUiError {
	return error instanceof ComfyUiError && (code === undefined || error.code === code);
}

/** `Node 4 (CheckpointLoaderSimple) input "ckpt_name": Value not in list: ckpt_name: 'x' not in [...]` */
export function describeNodeError(e: ComfyNodeError): string {
	const input = e.inputName ? ` input "${e.inputName}"` : '';
	const exception = e.exceptionType ? ` raised ${e.exceptionType}` : '';
	const text = e.details && !e.message.includes(e.details) ? `${e.message}: ${e.details}` : e.message;
	return `Node ${e.nodeId} (${e.classType})${input}${exception}: ${text}`;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
	return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
	return typeof value === 'string' ? value : undefined;
}

/** class_type lookup in the workflow we submitted, for errors where ComfyUI leaves it out. */
export type ClassTypeLookup = (nodeId: string) => string | undefined;

export function workflowClassTypes(workflow: Record<string, unknown> | undefined): ClassTypeLookup {
	return (nodeId) => str(asObject(workflow?.[nodeId])?.class_type);
}

/**
 * Maps a POST /prompt 400 body (or a 200 with partial node_errors) to per-node errors.
 * Handles the object form `{error:{type,message,details}, node_errors:{id:{errors,class_type}}}` and
 * the string form of servers before 2024 (`{error:"no prompt", node_errors:[]}`).
 */
export function parseNodeErrors(body: unknown, classTypeOf: ClassTypeLookup = () => undefined): ComfyNodeError[] {
	const nodeErrors = asObject(asObject(body)?.node_errors);
	if (!nodeErrors) return [];
	const result: ComfyNodeError[] = [];
	for (const [nodeId, entryValue] of Object.entries(nodeErrors)) {
		const entry = asObject(entryValue);
		const classType = str(entry?.class_type) ?? classTypeOf(nodeId) ?? '?';
		const errors = Array.isArray(entry?.errors) ? entry.errors : [];
		if (errors.length === 0) {
			result.push({ nodeId, classType, message: 'failed validation' });
			continue;
		}
		for (const errValue of errors) {
			const err = asObject(errValue) ?? {};
			const extra = asObject(err.extra_info);
			result.push({
				nodeId,
				classType,
				inputName: str(extra?.input_name),
				message: str(err.message) ?? 'failed validation',
				details: str(err.details) || undefined,
				errorType: str(err.type),
			});
		}
	}
	return result;
}

/** Top-level keys of ComfyUI's UI (editor) workflow format, which are never node ids of an API workflow. */
const UI_FORMAT_KEYS = new Set(['id', 'revision', 'last_node_id', 'last_link_id', 'nodes', 'links', 'groups', 'config', 'extra', 'version', 'definitions', 'state', 'models']);

/**
 * ComfyUI's 400 for a UI-format body: validate_prompt finds a top-level key of the editor format
 * (`nodes`, `links`, `id`...) where a node should be and reports it as a node missing class_type.
 * It is the failure our own check reports as workflow_ui_format, so it gets that code too.
 */
function isUiFormatRefusal(error: Json | undefined, nodeErrors: ComfyNodeError[]): boolean {
	if (str(error?.type) !== 'invalid_prompt' || !/class_type/.test(str(error?.message) ?? '')) return false;
	return nodeErrors.length === 1 && UI_FORMAT_KEYS.has(nodeErrors[0].nodeId);
}

/** Builds the error for a POST /prompt 400: comfyui_prompt_invalid naming the nodes, or workflow_ui_format. */
export function validationError(
	body: unknown,
	classTypeOf: ClassTypeLookup,
	context: { server?: string; promptId?: string },
): ComfyUiError {
	const root = asObject(body);
	const errorField = root?.error;
	const error = asObject(errorField);
	const summary = str(error?.message) ?? str(errorField) ?? 'the workflow failed validation';
	const details = str(error?.details);
	const nodeErrors = parseNodeErrors(body, classTypeOf);
	if (nodeErrors.length === 0 && details) {
		// invalid_prompt errors carry the node only as "Node ID '#5'" in details.
		const match = /Node ID '#?([^']+)'/.exec(details);
		if (match) nodeErrors.push({ nodeId: match[1], classType: classTypeOf(match[1]) ?? '?', message: summary });
	}
	if (isUiFormatRefusal(error, nodeErrors)) {
		return new ComfyUiError('workflow_ui_format', "ComfyUI refused the workflow: it is in ComfyUI's UI (editor) format, not the API format", {
			...context,
			field: 'workflow',
			upstreamStatus: 400,
			hint: UI_FORMAT_MESSAGE,
		});
	}
	const extra = nodeErrors.length === 0 && details && details !== summary ? ` (${details})` : '';
	let hint: string | undefined;
	if (str(error?.type) === 'prompt_no_outputs') {
		hint = 'Add an output node (Save Image, Preview Image, ...) to the workflow.';
	}
	return new ComfyUiError('comfyui_prompt_invalid', `ComfyUI rejected the workflow: ${summary}${extra}`, {
		...context,
		nodeErrors,
		upstreamStatus: 400,
		hint,
	});
}

/** Builds the comfyui_execution_failed error from an execution_error payload (WS event or history message). */
export function executionError(
	data: Json,
	classTypeOf: ClassTypeLookup,
	context: { server?: string; promptId?: string },
): ComfyUiError {
	const nodeId = str(data.node_id) ?? (typeof data.node_id === 'number' ? String(data.node_id) : '?');
	const classType = str(data.node_type) ?? classTypeOf(nodeId) ?? '?';
	const exceptionType = str(data.exception_type) ?? 'Exception';
	const exceptionMessage = (str(data.exception_message) ?? '').trim();
	const nodeError: ComfyNodeError = {
		nodeId,
		classType,
		message: exceptionMessage || 'execution failed',
		exceptionType,
		details: Array.isArray(data.traceback) ? data.traceback.filter((l) => typeof l === 'string').join('') || undefined : undefined,
	};
	const firstLine = exceptionMessage.split('\n')[0] ?? '';
	let hint: string | undefined;
	if (/OutOfMemory/i.test(exceptionType) || /out of memory/i.test(exceptionMessage)) {
		hint = 'The GPU ran out of memory: lower the resolution or batch size, or use a server with more VRAM.';
	}
	return new ComfyUiError('comfyui_execution_failed', `ComfyUI execution failed at node ${nodeId} (${classType}): ${exceptionType}: ${firstLine}`, {
		...context,
		nodeErrors: [nodeError],
		hint,
	});
}
