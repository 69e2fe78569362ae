/**
 * One error type for everything the ComfyUI client can report. `code` is what callers branch on;
 * the message is written for the person reading the n8n execution log: it names the ComfyUI
 * node, the input and the fix wherever ComfyUI gives us enough to do so.
 */
export type ComfyUiErrorCode =
	| 'validation'
	| 'execution'
	| 'timeout'
	| 'cancelled'
	| 'interrupted'
	| 'lost'
	| 'auth'
	| 'payload_too_large'
	| 'unreachable'
	| 'server_error'
	| 'ui_format'
	| 'bad_response';

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
	httpStatus?: number;
	/** false when the request certainly never reached ComfyUI (connection refused, DNS): safe to send elsewhere. */
	requestSent?: boolean;
	/** What the user can do about it, already included in the message. */
	hint?: string;
	cause?: unknown;
}

export class ComfyUiError extends Error {
	readonly code: ComfyUiErrorCode;
	readonly server?: string;
	readonly promptId?: string;
	readonly nodeErrors: ComfyNodeError[];
	readonly cancelAction?: CancelAction;
	readonly httpStatus?: number;
	readonly requestSent: boolean;
	readonly hint?: string;

	constructor(code: ComfyUiErrorCode, message: string, options: ComfyUiErrorOptions = {}) {
		super(options.hint && !message.includes(options.hint) ? `${message}\n${options.hint}` : message, {
			cause: options.cause,
		});
		this.name = 'ComfyUiError';
		this.code = code;
		this.server = options.server;
		this.promptId = options.promptId;
		this.nodeErrors = options.nodeErrors ?? [];
		this.cancelAction = options.cancelAction;
		this.httpStatus = options.httpStatus;
		this.requestSent = options.requestSent ?? true;
		this.hint = options.hint;
	}

	/** Plain data for n8n error output / the executions.error JSON column. */
	toJSON(): Record<string, unknown> {
		return {
			name: this.name,
			code: this.code,
			message: this.message,
			server: this.server,
			promptId: this.promptId,
			nodeErrors: this.nodeErrors,
			cancelAction: this.cancelAction,
			httpStatus: this.httpStatus,
			hint: this.hint,
		};
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

/** Builds the 'validation' error for a POST /prompt 400. */
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
	const lines = [`ComfyUI rejected the workflow: ${summary}`];
	if (nodeErrors.length > 0) lines.push(...nodeErrors.map(describeNodeError));
	else if (details && details !== summary) lines.push(details);
	let hint: string | undefined;
	if (str(error?.type) === 'prompt_no_outputs') {
		hint = 'Add an output node (Save Image, Preview Image, ...) to the workflow.';
	}
	return new ComfyUiError('validation', lines.join('\n'), {
		...context,
		nodeErrors,
		httpStatus: 400,
		hint,
	});
}

/** Builds the 'execution' error from an execution_error payload (WS event or history message). */
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
	return new ComfyUiError(
		'execution',
		`ComfyUI execution failed at node ${nodeId} (${classType}): ${exceptionType}: ${firstLine}\n` +
			`Node ${nodeId} (${classType}) raised ${exceptionType}: ${exceptionMessage}`,
		{ ...context, nodeErrors: [nodeError], hint },
	);
}
