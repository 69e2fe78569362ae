/**
 * The one error contract of PromptLab.
 *
 * Every failure that lib/ reports is a PromptLabError with
 * - `code`: a stable machine code from ERROR_CODES below (callers branch on it; it never changes
 *   when a message is reworded),
 * - `kind`: the family of the code (validation, not_found, conflict, ...), which fixes the HTTP
 *   status through HTTP_STATUS,
 * - `field`: the name in the use case's input schema the caller has to change (`rating`,
 *   `values.product`, `workflow`), never an n8n display label,
 * - `message` for a person and `hint` saying what to do about it.
 *
 * Nodes turn these into n8n errors in one adapter (nodes/shared/errors.ts); the shipped workflows
 * answer `httpStatus` (from HTTP_STATUS via the code) and `code`, never a match on message text.
 */

export type ErrorKind =
	| 'validation'
	| 'unsupported_media_type'
	| 'payload_too_large'
	| 'unauthorized'
	| 'forbidden'
	| 'not_found'
	| 'conflict'
	| 'quota'
	| 'cancelled'
	| 'timeout'
	| 'upstream'
	| 'unavailable'
	| 'internal';

/** The one table from an error's kind to the HTTP status a webhook answers. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
	validation: 400,
	unauthorized: 401,
	forbidden: 403,
	not_found: 404,
	conflict: 409,
	cancelled: 409,
	payload_too_large: 413,
	unsupported_media_type: 415,
	quota: 429,
	internal: 500,
	upstream: 502,
	unavailable: 503,
	timeout: 504,
};

/**
 * Every code PromptLab reports, with its kind and a one-line meaning (docs/workflows.md lists
 * them per endpoint; a test checks that every code thrown anywhere is listed here).
 * Add codes to the section of their domain; never rename or reuse one.
 */
export const ERROR_CODES = {
	// Requests and input in general
	invalid_input: { kind: 'validation', meaning: 'A field has the wrong type or value' },
	field_required: { kind: 'validation', meaning: 'A required field is missing or empty' },
	invalid_text: { kind: 'validation', meaning: 'Text holds a NUL character, a lone UTF-16 surrogate or U+FFFD (bytes that were not UTF-8)' },
	text_too_long: { kind: 'validation', meaning: 'Text is longer than the field allows' },
	invalid_json: { kind: 'validation', meaning: 'A JSON field does not parse' },
	invalid_body: { kind: 'validation', meaning: 'The request body is not a JSON object' },
	unsupported_media_type: { kind: 'unsupported_media_type', meaning: 'The request is not sent as application/json' },
	payload_too_large: { kind: 'payload_too_large', meaning: 'The request body is larger than the endpoint accepts' },
	unauthorized: { kind: 'unauthorized', meaning: 'No key, or a wrong key' },
	forbidden: { kind: 'forbidden', meaning: 'The key is valid but may not do this' },
	quota_exceeded: { kind: 'quota', meaning: 'A per-user limit is reached; retry after the time given' },
	internal_error: { kind: 'internal', meaning: 'An unexpected failure; the n8n execution log has the details' },

	// Database
	database_unavailable: { kind: 'unavailable', meaning: 'The PromptLab Postgres cannot be reached' },
	database_auth_failed: { kind: 'unavailable', meaning: 'The PromptLab Postgres refused the credential' },
	database_misconfigured: { kind: 'unavailable', meaning: 'The database or its privileges are not as PromptLab needs them' },
	migration_changed: { kind: 'internal', meaning: 'An applied migration file was edited after release' },
	database_credential_invalid: { kind: 'unavailable', meaning: 'The PromptLab Postgres credential holds an invalid value (schema name, port, ...)' },

	// Templates, versions, labels, variables
	template_not_found: { kind: 'not_found', meaning: 'No template with that name or id' },
	version_not_found: { kind: 'not_found', meaning: 'The template has no such version' },
	label_not_found: { kind: 'not_found', meaning: 'The template has no such label' },
	template_name_taken: { kind: 'conflict', meaning: 'A template with that name exists already' },
	template_archived: { kind: 'conflict', meaning: 'The template is archived' },
	template_has_no_workflow: { kind: 'validation', meaning: 'A text template was given where a ComfyUI workflow is needed' },
	label_has_no_history: { kind: 'conflict', meaning: 'The label never moved, so there is nothing to roll back to' },
	variable_definition_invalid: { kind: 'validation', meaning: 'A variable definition is malformed' },
	variable_missing: { kind: 'validation', meaning: 'A required variable has no value' },
	variable_unknown: { kind: 'validation', meaning: 'A value was given for a variable the version does not declare' },
	variable_invalid: { kind: 'validation', meaning: 'A variable value has the wrong type or is out of range' },
	placeholder_unknown: { kind: 'validation', meaning: 'A {{placeholder}} names no declared variable' },
	workflow_ui_format: { kind: 'validation', meaning: "A ComfyUI editor (UI-format) workflow instead of the API format" },
	workflow_invalid: { kind: 'validation', meaning: 'The workflow is not a ComfyUI API-format workflow' },
	workflow_checksum_mismatch: { kind: 'conflict', meaning: 'The template workflow changed since the checksum given' },

	// Executions, generation, feedback
	execution_not_found: { kind: 'not_found', meaning: 'No execution with that id or prompt id' },
	execution_finished: { kind: 'conflict', meaning: 'The execution already finished and cannot be re-run under the same id' },
	rating_invalid: { kind: 'validation', meaning: 'The rating is not a whole number' },
	rating_out_of_range: { kind: 'validation', meaning: 'The rating is not between 1 and 5' },
	idempotency_key_reused: { kind: 'conflict', meaning: 'The idempotency key was used for a different request' },
	prompt_id_taken: { kind: 'conflict', meaning: 'The ComfyUI prompt id already belongs to another execution' },

	// Campaigns
	campaign_not_found: { kind: 'not_found', meaning: 'No campaign with that name or id' },
	variant_not_found: { kind: 'not_found', meaning: 'The campaign has no such variant' },
	campaign_name_taken: { kind: 'conflict', meaning: 'A campaign with that name exists already' },
	campaign_not_running: { kind: 'conflict', meaning: 'The campaign is not running (draft, paused or completed)' },
	campaign_state_invalid: { kind: 'conflict', meaning: 'The campaign cannot move to that state from its current one' },
	campaign_no_winner: { kind: 'conflict', meaning: 'The results declare no winner to promote yet' },

	// ComfyUI
	comfyui_prompt_invalid: { kind: 'validation', meaning: 'ComfyUI refused the workflow (node_errors name the nodes)' },
	comfyui_execution_failed: { kind: 'upstream', meaning: 'A ComfyUI node raised an error while running' },
	comfyui_timeout: { kind: 'timeout', meaning: 'The job did not finish in time; it was removed or interrupted' },
	job_cancelled: { kind: 'cancelled', meaning: 'The job was cancelled' },
	job_interrupted: { kind: 'cancelled', meaning: 'The job was interrupted on the ComfyUI server' },
	job_lost: { kind: 'upstream', meaning: 'The ComfyUI server no longer knows the job (restarted?)' },
	comfyui_auth_failed: { kind: 'upstream', meaning: 'The ComfyUI server (or its proxy) refused the credential' },
	comfyui_payload_too_large: { kind: 'upstream', meaning: 'The ComfyUI server (or its proxy) refused the request size' },
	comfyui_unreachable: { kind: 'unavailable', meaning: 'No ComfyUI server could be reached' },
	comfyui_server_error: { kind: 'upstream', meaning: 'The ComfyUI server answered with a server error' },
	comfyui_bad_response: { kind: 'upstream', meaning: 'The ComfyUI server answered something PromptLab cannot read' },
	upload_names_differ: { kind: 'conflict', meaning: 'The servers of the pool stored an uploaded image under different names' },
	comfyui_misconfigured: { kind: 'unavailable', meaning: 'The ComfyUI API credential is invalid (server URL, authentication fields)' },

	// Recommendations
	user_not_found: { kind: 'not_found', meaning: 'No ratings or executions by that user' },

	// Webhook workflows (workflows/*.json answer these; no lib code throws them)
	generation_no_images: { kind: 'upstream', meaning: 'The job finished but its workflow saved no image (does it end in a Save Image node?)' },
	email_not_sent: { kind: 'upstream', meaning: 'The report was built but the mail server did not take the e-mail' },
	showcase_shots_failed: { kind: 'upstream', meaning: 'Some shots of the product showcase failed; `failed` lists each with its own code' },
} as const satisfies Record<string, { kind: ErrorKind; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes of one kind, so `new NotFoundError('rating_invalid', ...)` does not compile. */
export type CodeOfKind<K extends ErrorKind> = {
	[C in ErrorCode]: (typeof ERROR_CODES)[C]['kind'] extends K ? C : never;
}[ErrorCode];

export function isErrorCode(value: unknown): value is ErrorCode {
	return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

export function kindOf(code: ErrorCode): ErrorKind {
	return ERROR_CODES[code].kind;
}

export function httpStatusOf(code: ErrorCode): number {
	return HTTP_STATUS[kindOf(code)];
}

export interface ErrorOptions {
	/** The input field to change: a name of the use case's input schema (`rating`, `values.seed`). */
	field?: string;
	/** What to do about it, one sentence. */
	hint?: string;
	/** Machine-readable extras that callers may use (ids, node errors, limits). JSON only. */
	details?: Record<string, unknown>;
	cause?: unknown;
}

/** The JSON every error becomes in error items, webhook answers and the executions.error column. */
export interface ErrorJson {
	code: ErrorCode;
	kind: ErrorKind;
	message: string;
	field?: string;
	hint?: string;
	details?: Record<string, unknown>;
}

export class PromptLabError extends Error {
	readonly code: ErrorCode;
	readonly field?: string;
	readonly hint?: string;
	readonly details?: Record<string, unknown>;

	constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
		super(message, options.cause === undefined ? undefined : { cause: options.cause });
		this.name = new.target.name;
		this.code = code;
		if (options.field !== undefined && options.field !== '') this.field = options.field;
		if (options.hint !== undefined) this.hint = options.hint;
		if (options.details !== undefined) this.details = options.details;
	}

	get kind(): ErrorKind {
		return kindOf(this.code);
	}

	get httpStatus(): number {
		return HTTP_STATUS[this.kind];
	}

	toJSON(): ErrorJson {
		return {
			code: this.code,
			kind: this.kind,
			message: this.message,
			...(this.field !== undefined ? { field: this.field } : {}),
			...(this.hint !== undefined ? { hint: this.hint } : {}),
			...(this.details !== undefined ? { details: this.details } : {}),
		};
	}
}

/** Bad input: the caller must change `field`. */
export class ValidationError extends PromptLabError {
	constructor(
		code: CodeOfKind<'validation' | 'unsupported_media_type' | 'payload_too_large'>,
		message: string,
		options?: ErrorOptions,
	) {
		super(code, message, options);
	}
}

/** The thing referred to does not exist (template, version, label, execution, campaign). */
export class NotFoundError extends PromptLabError {
	constructor(code: CodeOfKind<'not_found'>, message: string, options?: ErrorOptions) {
		super(code, message, options);
	}
}

/** The request is well-formed but contradicts stored state (name taken, campaign completed, key reused). */
export class ConflictError extends PromptLabError {
	constructor(code: CodeOfKind<'conflict'>, message: string, options?: ErrorOptions) {
		super(code, message, options);
	}
}

/** The caller is not known, or known and not allowed. */
export class ForbiddenError extends PromptLabError {
	constructor(code: CodeOfKind<'unauthorized' | 'forbidden'>, message: string, options?: ErrorOptions) {
		super(code, message, options);
	}
}

/** A limit is reached; `retryAfterSeconds` says when to come back. */
export class QuotaError extends PromptLabError {
	readonly retryAfterSeconds?: number;

	constructor(code: CodeOfKind<'quota'>, message: string, options: ErrorOptions & { retryAfterSeconds?: number } = {}) {
		super(code, message, {
			...options,
			details: { ...options.details, ...(options.retryAfterSeconds !== undefined ? { retryAfterSeconds: options.retryAfterSeconds } : {}) },
		});
		this.retryAfterSeconds = options.retryAfterSeconds;
	}
}

/** A server we depend on (ComfyUI, Postgres) failed or could not be reached. */
export class UpstreamError extends PromptLabError {
	constructor(code: CodeOfKind<'upstream' | 'unavailable' | 'internal'>, message: string, options?: ErrorOptions) {
		super(code, message, options);
	}
}

/** Waited too long. */
export class TimeoutError extends PromptLabError {
	constructor(code: CodeOfKind<'timeout'>, message: string, options?: ErrorOptions) {
		super(code, message, options);
	}
}

/** Stopped on purpose (n8n Stop, a Cancel, an interrupt on the server). */
export class CancelledError extends PromptLabError {
	constructor(code: CodeOfKind<'cancelled'>, message: string, options?: ErrorOptions) {
		super(code, message, options);
	}
}

export function isPromptLabError(error: unknown, code?: ErrorCode): error is PromptLabError {
	return error instanceof PromptLabError && (code === undefined || error.code === code);
}

/** Postgres and socket error codes whose cause the user can fix, with what to fix. */
const DRIVER_ERRORS: Record<string, { code: CodeOfKind<'unavailable'>; hint: string }> = {
	ECONNREFUSED: {
		code: 'database_unavailable',
		hint: 'Postgres is not reachable: check Host and Port of the PromptLab Postgres credential',
	},
	ENOTFOUND: { code: 'database_unavailable', hint: 'The Postgres host name does not resolve: check Host of the PromptLab Postgres credential' },
	ETIMEDOUT: { code: 'database_unavailable', hint: 'Postgres did not answer in time: check Host, Port and firewalls' },
	'57P03': { code: 'database_unavailable', hint: 'Postgres is starting up or shutting down: try again shortly' },
	'28P01': { code: 'database_auth_failed', hint: 'Postgres rejected the login: check User and Password of the PromptLab Postgres credential' },
	'28000': { code: 'database_auth_failed', hint: 'Postgres rejected the login: check User, Password and pg_hba.conf' },
	'3D000': { code: 'database_misconfigured', hint: 'The database does not exist: check Database in the PromptLab Postgres credential' },
	'42501': {
		code: 'database_misconfigured',
		hint: 'The Postgres user lacks privileges on the PromptLab schema (it needs CREATE on the database the first time)',
	},
};

/**
 * Any thrown value as a PromptLabError: ours unchanged, driver errors with a code the user can act
 * on mapped to it, anything else `internal_error` (its message kept for the n8n log).
 */
export function toPromptLabError(error: unknown): PromptLabError {
	if (error instanceof PromptLabError) return error;
	const e = error as { code?: unknown; message?: unknown } | undefined;
	const known = typeof e?.code === 'string' ? DRIVER_ERRORS[e.code] : undefined;
	const message = error instanceof Error ? error.message : String(error);
	if (known) return new UpstreamError(known.code, message, { hint: known.hint, cause: error });
	return new UpstreamError('internal_error', message || 'Unexpected error', { cause: error });
}
