/**
 * One way to validate input: every use case exports an input schema built with `defineInput`;
 * nodes and workflows call its `parse` once, and a failure is a ValidationError whose `field` is
 * the schema path (`rating`, `values.product`) and whose `code` is stable.
 */
import { z, type ZodError, type ZodIssue, type ZodTypeAny } from 'zod';

import { ValidationError, isErrorCode, type CodeOfKind, type ErrorCode } from './errors';

type ValidationCode = CodeOfKind<'validation'>;

/**
 * Text Postgres can store and a person meant to send: no NUL (Postgres refuses it in text), no
 * lone UTF-16 surrogate (not encodable as UTF-8), no U+FFFD (what a JSON parser makes of bytes
 * that were not UTF-8: storing it would silently replace the sender's text).
 */
export function textProblem(value: string): string | undefined {
	if (value.includes('\u0000')) return 'contains a NUL character (\\u0000)';
	if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
	if (value.includes('\uFFFD')) return 'contains U+FFFD: the request was not valid UTF-8 (send UTF-8 encoded JSON)';
	return undefined;
}

/** Issue params that carry our code through zod. */
export function issueCode(code: ValidationCode): { params: { code: ValidationCode } } {
	return { params: { code } };
}

/**
 * The problem of one text field, as text() reports it: invalid_text (see textProblem), or
 * text_too_long counting characters like Postgres (code points, not UTF-16 units). Exported for
 * schemas on hot paths that check several fields in one refinement (lib/feedback).
 */
export function textIssue(value: string, label: string, max?: number): { code: ValidationCode; message: string } | undefined {
	const problem = textProblem(value);
	if (problem) return { code: 'invalid_text', message: `${label} ${problem}` };
	if (max !== undefined && value.length > max && [...value].length > max) {
		return { code: 'text_too_long', message: `${label} is longer than ${max} characters` };
	}
	return undefined;
}

/** A string that passes textIssue (see there), optionally bounded in characters. */
export function text(options: { max?: number; label?: string } = {}) {
	const label = options.label ?? 'The text';
	return z.string({ invalid_type_error: `${label} must be text` }).superRefine((value, ctx) => {
		const issue = textIssue(value, label, options.max);
		if (issue) ctx.addIssue({ code: 'custom', message: issue.message, ...issueCode(issue.code) });
	});
}

/** Checks every string anywhere inside a JSON value (variable values, workflow JSON): path and problem of the first bad one. */
export function findTextProblem(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; problem: string } | undefined {
	if (typeof value === 'string') {
		const problem = textProblem(value);
		return problem ? { path, problem } : undefined;
	}
	if (Array.isArray(value)) {
		for (let i = 0; i < value.length; i++) {
			const found = findTextProblem(value[i], [...path, i]);
			if (found) return found;
		}
		return undefined;
	}
	if (value !== null && typeof value === 'object') {
		for (const [key, inner] of Object.entries(value)) {
			const keyProblem = textProblem(key);
			if (keyProblem) return { path: [...path, key], problem: `has a key that ${keyProblem}` };
			const found = findTextProblem(inner, [...path, key]);
			if (found) return found;
		}
	}
	return undefined;
}

/** `a.b.0.c` for a zod path, the form `field` takes everywhere. */
function fieldPath(path: readonly (string | number)[]): string {
	return path.map(String).join('.');
}

function codeOfIssue(issue: ZodIssue, fieldCodes: Partial<Record<string, ValidationCode>>): ErrorCode {
	const own = (issue as { params?: { code?: unknown } }).params?.code;
	if (isErrorCode(own)) return own;
	const field = fieldPath(issue.path);
	const top = String(issue.path[0] ?? '');
	if (issue.code === 'invalid_type' && (issue.received === 'undefined' || issue.received === 'null')) return 'field_required';
	return fieldCodes[field] ?? fieldCodes[top] ?? 'invalid_input';
}

/** A ZodError as the ValidationError of its first issue; every issue rides along in details. */
export function validationErrorFromZod(
	error: ZodError,
	fieldCodes: Partial<Record<string, ValidationCode>> = {},
	prefix: (string | number)[] = [],
): ValidationError {
	const issues = error.issues.map((issue) => ({
		field: fieldPath([...prefix, ...issue.path]),
		code: codeOfIssue(issue, fieldCodes),
		message: issue.message,
	}));
	const first = issues[0] ?? { field: '', code: 'invalid_input' as const, message: 'Invalid input' };
	return new ValidationError(first.code as ValidationCode, first.message, {
		field: first.field || undefined,
		details: issues.length > 1 ? { issues } : undefined,
	});
}

export interface InputDefinition<S extends ZodTypeAny> {
	schema: S;
	/** Validates once; throws a ValidationError naming the field. */
	parse(input: unknown): z.output<S>;
}

/**
 * A use case's input: the zod schema, and the code each field reports when zod itself (not one of
 * our refinements, which carry their own) refuses it.
 */
export function defineInput<S extends ZodTypeAny>(
	schema: S,
	fieldCodes: Partial<Record<string, ValidationCode>> = {},
): InputDefinition<S> {
	return {
		schema,
		parse(input: unknown) {
			const result = schema.safeParse(input);
			if (!result.success) throw validationErrorFromZod(result.error, fieldCodes);
			return result.data as z.output<S>;
		},
	};
}
