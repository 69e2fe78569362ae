/**
 * Every failure of the template library is a TemplateError: the n8n node turns `field` into the
 * name shown in its NodeOperationError and `code` into something a workflow can branch on.
 */
export type TemplateErrorCode =
	| 'invalid_definition'
	| 'missing_variable'
	| 'unknown_variable'
	| 'invalid_value'
	| 'unknown_placeholder'
	| 'ui_format_workflow'
	| 'invalid_workflow'
	| 'workflow_checksum_mismatch';

export class TemplateError extends Error {
	readonly code: TemplateErrorCode;
	/** The variable, definition or workflow node the error is about, when there is one. */
	readonly field?: string;

	constructor(code: TemplateErrorCode, message: string, field?: string) {
		super(message);
		this.name = 'TemplateError';
		this.code = code;
		if (field !== undefined) this.field = field;
	}
}

export function isTemplateError(error: unknown): error is TemplateError {
	return error instanceof TemplateError;
}

/** Short, bounded description of a value for error messages (values can be 1 MB strings). */
export function describeValue(value: unknown): string {
	if (value === null) return 'null';
	if (value === undefined) return 'nothing';
	if (Array.isArray(value)) return `an array (${value.length} items)`;
	if (typeof value === 'string') {
		const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
		return `the string ${JSON.stringify(shown)}`;
	}
	if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
	if (typeof value === 'object') return 'an object';
	return `a ${typeof value}`;
}
