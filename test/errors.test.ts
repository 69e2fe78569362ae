import { NodeOperationError, type INode } from 'n8n-workflow';
import { z } from 'zod';

import {
	ConflictError,
	ERROR_CODES,
	HTTP_STATUS,
	NotFoundError,
	PromptLabError,
	QuotaError,
	ValidationError,
	httpStatusOf,
	toPromptLabError,
} from '../lib/errors';
import { defineInput, findTextProblem, text, textProblem } from '../lib/validation';
import { errorItemJson, toNodeError } from '../nodes/shared/errors';

const node: INode = {
	id: '1',
	name: 'Record Feedback',
	type: 'n8n-nodes-promptlab.recordFeedback',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

describe('error catalogue', () => {
	it('gives every code a kind that has an HTTP status', () => {
		for (const [code, entry] of Object.entries(ERROR_CODES)) {
			expect([code, HTTP_STATUS[entry.kind]]).toEqual([code, expect.any(Number)]);
			expect(code).toMatch(/^[a-z][a-z0-9_]*$/);
		}
	});

	it('maps kinds to the statuses the webhooks answer', () => {
		expect(httpStatusOf('rating_out_of_range')).toBe(400);
		expect(httpStatusOf('template_not_found')).toBe(404);
		expect(httpStatusOf('idempotency_key_reused')).toBe(409);
		expect(httpStatusOf('unsupported_media_type')).toBe(415);
		expect(httpStatusOf('payload_too_large')).toBe(413);
		expect(httpStatusOf('quota_exceeded')).toBe(429);
		expect(httpStatusOf('comfyui_unreachable')).toBe(503);
		expect(httpStatusOf('comfyui_timeout')).toBe(504);
		expect(httpStatusOf('internal_error')).toBe(500);
	});

	it('serialises code, kind, field, hint and details', () => {
		const error = new NotFoundError('template_not_found', 'Template "x" not found', {
			field: 'template',
			hint: 'Create it first',
			details: { name: 'x' },
		});
		expect(error).toBeInstanceOf(PromptLabError);
		expect(error.httpStatus).toBe(404);
		expect(JSON.parse(JSON.stringify(error))).toEqual({
			code: 'template_not_found',
			kind: 'not_found',
			message: 'Template "x" not found',
			field: 'template',
			hint: 'Create it first',
			details: { name: 'x' },
		});
	});

	it('keeps retryAfterSeconds of a quota error in its details', () => {
		const error = new QuotaError('quota_exceeded', 'Too many jobs in flight', { retryAfterSeconds: 30 });
		expect(error.toJSON()).toMatchObject({ code: 'quota_exceeded', kind: 'quota', details: { retryAfterSeconds: 30 } });
	});

	it('maps driver errors the user can fix, and anything else to internal_error', () => {
		const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
		expect(toPromptLabError(refused)).toMatchObject({ code: 'database_unavailable', hint: expect.stringMatching(/Host and Port/) });
		const login = Object.assign(new Error('password authentication failed'), { code: '28P01' });
		expect(toPromptLabError(login)).toMatchObject({ code: 'database_auth_failed' });
		expect(toPromptLabError(new TypeError('x is undefined'))).toMatchObject({ code: 'internal_error', message: 'x is undefined' });
		const own = new ConflictError('campaign_not_running', 'Campaign is a draft');
		expect(toPromptLabError(own)).toBe(own);
	});
});

describe('text validation', () => {
	it('refuses NUL, lone surrogates and U+FFFD, and accepts emoji and other scripts', () => {
		expect(textProblem('a\u0000b')).toMatch(/NUL/);
		expect(textProblem('a\ud800b')).toMatch(/surrogate/);
		expect(textProblem('a\udc00')).toMatch(/surrogate/);
		expect(textProblem('caf\uFFFD')).toMatch(/UTF-8/);
		expect(textProblem('😀 日本語 ünïcödé')).toBeUndefined();
	});

	it('finds the first bad string anywhere in a JSON value, keys included', () => {
		expect(findTextProblem({ a: ['ok', { b: 'x\u0000' }] })).toMatchObject({ path: ['a', 1, 'b'] });
		expect(findTextProblem({ ['k\u0000']: 1 })).toMatchObject({ path: ['k\u0000'] });
		expect(findTextProblem({ a: [1, true, null, 'fine'] })).toBeUndefined();
	});

	it('counts characters like Postgres (code points) for the length limit', () => {
		const schema = text({ max: 3, label: 'Comment' });
		expect(schema.safeParse('😀😀😀').success).toBe(true);
		expect(schema.safeParse('abcd').success).toBe(false);
	});
});

describe('defineInput', () => {
	const input = defineInput(
		z.object({
			rating: z.number().int().min(1).max(5),
			comment: text({ max: 10, label: 'Comment' }).optional(),
			values: z.record(text({ label: 'A variable value' })).optional(),
		}),
		{ rating: 'rating_out_of_range' },
	);

	it('returns the parsed value', () => {
		expect(input.parse({ rating: 4, comment: 'ok' })).toEqual({ rating: 4, comment: 'ok' });
	});

	it('names the field and the code of the first problem', () => {
		expect(() => input.parse({ rating: 9 })).toThrow(ValidationError);
		expect(catchError(() => input.parse({ rating: 9 }))).toMatchObject({ code: 'rating_out_of_range', field: 'rating' });
		expect(catchError(() => input.parse({}))).toMatchObject({ code: 'field_required', field: 'rating' });
		expect(catchError(() => input.parse({ rating: 3, comment: 'a\u0000' }))).toMatchObject({ code: 'invalid_text', field: 'comment' });
		expect(catchError(() => input.parse({ rating: 3, comment: 'far too long text' }))).toMatchObject({
			code: 'text_too_long',
			field: 'comment',
		});
		expect(catchError(() => input.parse({ rating: 3, values: { product: 'x\ud800' } }))).toMatchObject({
			code: 'invalid_text',
			field: 'values.product',
		});
	});

	it('lists every problem in details when there are several', () => {
		expect(catchError(() => input.parse({ rating: 0, comment: 'a\u0000' })).details).toEqual({
			issues: [
				expect.objectContaining({ field: 'rating', code: 'rating_out_of_range' }),
				expect.objectContaining({ field: 'comment', code: 'invalid_text' }),
			],
		});
	});
});

describe('node error adapter', () => {
	it('keeps code, field and status, and names the parameter in the description', () => {
		const error = new ValidationError('rating_out_of_range', 'Rating must be a whole number from 1 to 5 (got 6)', {
			field: 'rating',
			hint: 'Send 1, 2, 3, 4 or 5',
		});
		const nodeError = toNodeError(node, error, 2, { rating: 'Rating' });
		expect(nodeError).toBeInstanceOf(NodeOperationError);
		expect(nodeError.message).toBe('Rating must be a whole number from 1 to 5 (got 6)');
		expect(nodeError.description).toBe('Send 1, 2, 3, 4 or 5\nCheck the "Rating" field.');
		expect(errorItemJson(nodeError)).toEqual({
			error: 'Rating must be a whole number from 1 to 5 (got 6)',
			code: 'rating_out_of_range',
			kind: 'validation',
			httpStatus: 400,
			field: 'rating',
			hint: 'Send 1, 2, 3, 4 or 5',
		});
	});

	it('maps zod errors and unknown errors through the same contract', () => {
		const zodError = z.object({ userId: z.string() }).safeParse({ userId: 5 });
		if (zodError.success) throw new Error('expected a zod error');
		expect(errorItemJson(toNodeError(node, zodError.error, 0))).toMatchObject({ code: 'invalid_input', field: 'userId', httpStatus: 400 });
		expect(errorItemJson(toNodeError(node, new Error('boom'), 0))).toMatchObject({ code: 'internal_error', httpStatus: 500 });
	});

	it('does not adapt twice', () => {
		const once = toNodeError(node, new NotFoundError('execution_not_found', 'Execution x not found', { field: 'executionId' }), 0);
		expect(toNodeError(node, once, 0)).toBe(once);
	});
});

function catchError(fn: () => unknown): PromptLabError {
	try {
		fn();
	} catch (error) {
		if (error instanceof PromptLabError) return error;
		throw error;
	}
	throw new Error('expected an error');
}
