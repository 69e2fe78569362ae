/**
 * workflows/feedback.json on the real n8n: POST /webhook/promptlab/feedback records a rating
 * through the Record Feedback node and answers with the version's updated stats; bad and hostile
 * requests get the status of their error `code` ({ code, error, field, hint }, nothing internal
 * in the answer) and change nothing in Postgres; header auth works when switched on.
 */
import type { Pool } from 'pg';

import { closeAllPools } from '../lib/db/pool';
import { PAYLOAD_SIZE_MAX_MIB } from '../scripts/n8n/instance';
import { POSTGRES_CREDENTIAL_TYPE } from '../scripts/n8n/stack';
import { freePort } from '../dev/postgres';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { comfyExecution, createTextTemplate, dataPool, loggedExecution, snapshot } from './support/promptlab-data';
import {
	assertNodesDeclared,
	expectErrorAnswer,
	expectNoInternals,
	findNode,
	readWorkflow,
	shippedWorkflow,
	writeWorkflowCopy,
} from './support/workflows';

const FEEDBACK = shippedWorkflow('feedback.json');
const PATH = 'promptlab/feedback';
const AUTH_PATH = 'promptlab/feedback-protected';
const API_KEY_HEADER = 'X-PromptLab-Key';
const API_KEY = 'e2e-secret-4d9c1b7a52';

/** The shipped workflow with Header Auth switched on, as docs/workflows.md tells users to do. */
function protectedCopy(): string {
	const workflow = readWorkflow(FEEDBACK);
	workflow.id = 'PromptLabFeedAuth';
	workflow.name = `${workflow.name} (header auth)`;
	const hook = findNode(workflow, 'Feedback Webhook');
	hook.webhookId = 'b7e1c3d5-2f4a-4b6c-8d0e-1a2b3c4d5e6f';
	hook.parameters = { ...hook.parameters, path: AUTH_PATH, authentication: 'headerAuth' };
	hook.credentials = { httpHeaderAuth: { id: 'replaced-on-import', name: 'Feedback API key' } };
	return writeWorkflowCopy(workflow, 'feedback-protected.json');
}

interface FeedbackAnswer {
	feedback: { id: string; executionId: string; rating: number; userId: string; comment: string | null; idempotencyKey: string; source: string };
	duplicate: boolean;
	replaced: boolean;
	previousRating: number | null;
	stats: { ratingCount: number; ratingSum: number; meanRating: number; histogram: Record<string, number>; goodCount: number };
}

describe('workflow feedback.json: POST /webhook/promptlab/feedback', () => {
	let n8n: E2eN8n;
	let pool: Pool;
	let versionId: string;
	let executionId: string;

	beforeAll(async () => {
		assertNodesDeclared([FEEDBACK]);
		n8n = await startE2eN8n({
			name: 'wf-feedback',
			workflows: [FEEDBACK, protectedCopy()],
			credentials: [{ name: 'Feedback API key', type: 'httpHeaderAuth', data: { name: API_KEY_HEADER, value: API_KEY } }],
		});
		pool = await dataPool(n8n.dataDatabaseUrl);
		const { version } = await createTextTemplate(pool, 'e2e-feedback-poem');
		versionId = version.id;
		executionId = await loggedExecution(pool, versionId);
	});

	afterAll(async () => {
		await closeAllPools();
		await n8n?.stop();
	});

	it('is imported and published with its production webhook', () => {
		const deployed = n8n.workflows.find((w) => w.id === 'PromptLabFeedbck');
		expect(deployed?.activationError).toBeUndefined();
		expect(deployed?.active).toBe(true);
		expect(n8n.webhook(PATH)).toMatchObject({ method: 'POST', url: expect.stringMatching(/\/webhook\/promptlab\/feedback$/) });
	});

	it('records a rating and answers 200 with the stored feedback and the updated stats', async () => {
		const { status, body } = await n8n.postWebhook(PATH, { executionId, rating: 5, userId: 'ana', comment: 'lovely', idempotencyKey: 'fb-1' });
		expect(status).toBe(200);
		const answer = body as FeedbackAnswer;
		expect(answer).toMatchObject({
			feedback: { executionId, rating: 5, userId: 'ana', comment: 'lovely', idempotencyKey: 'fb-1', source: 'webhook' },
			duplicate: false,
			replaced: false,
			stats: { ratingCount: 1, ratingSum: 5, meanRating: 5, goodCount: 1 },
		});
		const rows = await n8n.queryData<{ rating: number; user_id: string; comment: string }>(
			'SELECT rating, user_id, comment FROM promptlab.feedback WHERE execution_id = $1',
			[executionId],
		);
		expect(rows).toEqual([{ rating: 5, user_id: 'ana', comment: 'lovely' }]);
		const stats = await n8n.queryData<{ rating_count: string; rating_sum: string }>(
			'SELECT rating_count::text, rating_sum::text FROM promptlab.template_stats WHERE version_id = $1',
			[versionId],
		);
		expect(stats).toEqual([{ rating_count: '1', rating_sum: '5' }]);
	});

	it('counts a retried request once (same idempotency key, in the body or the Idempotency-Key header)', async () => {
		const before = await snapshot(pool);
		const retry = await n8n.postWebhook(PATH, { executionId, rating: 5, userId: 'ana', comment: 'lovely', idempotencyKey: 'fb-1' });
		expect(retry.status).toBe(200);
		expect(retry.body).toMatchObject({ duplicate: true, stats: { ratingCount: 1, ratingSum: 5 } });
		expect(await snapshot(pool)).toEqual(before);

		const first = await n8n.callWebhook(PATH, { headers: { 'Idempotency-Key': 'fb-header-1' }, body: { executionId, rating: 2, userId: 'ben' } });
		expect(first.status).toBe(200);
		expect(first.body).toMatchObject({ duplicate: false, feedback: { idempotencyKey: 'fb-header-1', rating: 2 }, stats: { ratingCount: 2, ratingSum: 7 } });
		const again = await n8n.callWebhook(PATH, { headers: { 'Idempotency-Key': 'fb-header-1' }, body: { executionId, rating: 2, userId: 'ben' } });
		expect(again.body).toMatchObject({ duplicate: true, stats: { ratingCount: 2, ratingSum: 7 } });
	});

	it('replaces an earlier rating of the same user and moves the stats by the difference', async () => {
		const { status, body } = await n8n.postWebhook(PATH, { executionId, rating: 4, userId: 'ben', idempotencyKey: 'fb-ben-2' });
		expect(status).toBe(200);
		expect(body).toMatchObject({ replaced: true, previousRating: 2, stats: { ratingCount: 2, ratingSum: 9, histogram: { '2': 0, '4': 1, '5': 1 } } });
	});

	it('finds the execution by its ComfyUI prompt id and accepts a rating sent as a digit string', async () => {
		const comfy = await comfyExecution(pool, versionId);
		const { status, body } = await n8n.postWebhook(PATH, { promptId: comfy.promptId, rating: '3', userId: 'cleo' });
		expect(status).toBe(200);
		expect(body).toMatchObject({ feedback: { executionId: comfy.executionId, rating: 3, userId: 'cleo' }, stats: { ratingCount: 3, ratingSum: 12 } });
	});

	describe('refuses bad requests with the status of their code, naming the field, and changes nothing', () => {
		const UNKNOWN = '00000000-0000-4000-8000-000000000000';
		const cases: Array<{ title: string; body: () => unknown; status: number; code: string; field: string | null }> = [
			{ title: 'rating missing', body: () => ({ executionId, userId: 'u1' }), status: 400, code: 'field_required', field: 'rating' },
			{ title: 'rating 9', body: () => ({ executionId, rating: 9, userId: 'u1' }), status: 400, code: 'rating_out_of_range', field: 'rating' },
			{ title: 'rating 0', body: () => ({ executionId, rating: 0, userId: 'u1' }), status: 400, code: 'rating_out_of_range', field: 'rating' },
			{ title: 'rating 3.5', body: () => ({ executionId, rating: 3.5, userId: 'u1' }), status: 400, code: 'rating_invalid', field: 'rating' },
			{ title: 'rating "five"', body: () => ({ executionId, rating: 'five', userId: 'u1' }), status: 400, code: 'rating_invalid', field: 'rating' },
			{ title: 'rating "4.0"', body: () => ({ executionId, rating: '4.0', userId: 'u1' }), status: 400, code: 'rating_invalid', field: 'rating' },
			{ title: 'rating "+4"', body: () => ({ executionId, rating: '+4', userId: 'u1' }), status: 400, code: 'rating_invalid', field: 'rating' },
			{ title: 'rating as an object', body: () => ({ executionId, rating: { stars: 5 }, userId: 'u1' }), status: 400, code: 'rating_invalid', field: 'rating' },
			{ title: 'userId missing', body: () => ({ executionId, rating: 4 }), status: 400, code: 'field_required', field: 'userId' },
			{ title: 'userId blank', body: () => ({ executionId, rating: 4, userId: '   ' }), status: 400, code: 'field_required', field: 'userId' },
			{ title: 'userId too long', body: () => ({ executionId, rating: 4, userId: 'u'.repeat(300) }), status: 400, code: 'text_too_long', field: 'userId' },
			{ title: 'no execution id nor prompt id', body: () => ({ rating: 4, userId: 'u1' }), status: 400, code: 'field_required', field: 'executionId' },
			{ title: 'executionId not a UUID', body: () => ({ executionId: 'abc', rating: 4, userId: 'u1' }), status: 400, code: 'invalid_input', field: 'executionId' },
			{ title: 'executionId a number', body: () => ({ executionId: 12345, rating: 4, userId: 'u1' }), status: 400, code: 'invalid_input', field: 'executionId' },
			{ title: 'comment longer than 4000 characters', body: () => ({ executionId, rating: 4, userId: 'u1', comment: 'x'.repeat(4001) }), status: 400, code: 'text_too_long', field: 'comment' },
			{ title: 'comment not text', body: () => ({ executionId, rating: 4, userId: 'u1', comment: ['a'] }), status: 400, code: 'invalid_input', field: 'comment' },
			{ title: 'unknown execution id', body: () => ({ executionId: UNKNOWN, rating: 4, userId: 'u1' }), status: 404, code: 'execution_not_found', field: 'executionId' },
			{ title: 'unknown prompt id', body: () => ({ promptId: 'no-such-prompt', rating: 4, userId: 'u1' }), status: 404, code: 'execution_not_found', field: 'promptId' },
			{ title: 'idempotency key of another rating', body: () => ({ executionId, rating: 1, userId: 'dora', idempotencyKey: 'fb-1' }), status: 409, code: 'idempotency_key_reused', field: 'idempotencyKey' },
			// Hostile text: refused with the field named, never stored (Postgres refuses NUL with a raw error).
			{ title: 'a NUL byte in the comment', body: () => ({ executionId, rating: 4, userId: 'u1', comment: 'nice\u0000' }), status: 400, code: 'invalid_text', field: 'comment' },
			{ title: 'a NUL byte in the userId', body: () => ({ executionId, rating: 4, userId: 'u\u00001' }), status: 400, code: 'invalid_text', field: 'userId' },
			{ title: 'a lone surrogate ("\\ud800") in the userId', body: () => ({ executionId, rating: 4, userId: 'u\ud800' }), status: 400, code: 'invalid_text', field: 'userId' },
			{ title: 'a JSON array instead of an object', body: () => [{ executionId, rating: 4, userId: 'u1' }], status: 400, code: 'invalid_body', field: null },
			{ title: 'a JSON string instead of an object', body: () => 'rating=5', status: 400, code: 'invalid_body', field: null },
			// n8n hands a JSON null body to the workflow as {}: refused as an empty request.
			{ title: 'JSON null (n8n reads it as {})', body: () => null, status: 400, code: 'field_required', field: 'rating' },
		];

		it.each(cases)('$title → $status $code', async ({ body, status, code, field }) => {
			const before = await snapshot(pool);
			const answer = await n8n.callWebhook(PATH, { rawBody: JSON.stringify(body()), headers: { 'content-type': 'application/json' } });
			expectErrorAnswer(answer, { status, code, field });
			expect(await snapshot(pool)).toEqual(before);
		});

		it('the surrogate really travels as "\\ud800" in the JSON text', () => {
			expect(JSON.stringify({ userId: 'u\ud800' })).toBe('{"userId":"u\\ud800"}');
		});

		it('bytes that are not UTF-8 in the body → 400 invalid_text naming the field, nothing stored as U+FFFD', async () => {
			const before = await snapshot(pool);
			const raw = Buffer.concat([
				Buffer.from(`{"executionId": "${executionId}", "rating": 4, "userId": "u1", "comment": "caf`),
				Buffer.from([0xe9, 0xff, 0xfe]),
				Buffer.from('"}'),
			]);
			const answer = await n8n.callWebhook(PATH, { rawBody: raw, headers: { 'content-type': 'application/json' } });
			expectErrorAnswer(answer, { status: 400, code: 'invalid_text', field: 'comment' });
			expect(await snapshot(pool)).toEqual(before);
			const stored = await n8n.queryData<{ n: string }>("SELECT count(*)::text AS n FROM promptlab.feedback WHERE comment LIKE '%' || chr(65533) || '%'");
			expect(stored[0].n).toBe('0');
		});

		it('a form-encoded body → 415 unsupported_media_type, never recorded as a rating', async () => {
			const before = await snapshot(pool);
			const form = await n8n.callWebhook(PATH, {
				rawBody: `executionId=${executionId}&rating=5&userId=form-user`,
				headers: { 'content-type': 'application/x-www-form-urlencoded' },
			});
			expectErrorAnswer(form, { status: 415, code: 'unsupported_media_type', field: null });
			const text = await n8n.callWebhook(PATH, { rawBody: JSON.stringify({ executionId, rating: 5, userId: 'text-user' }), headers: { 'content-type': 'text/plain' } });
			expectErrorAnswer(text, { status: 415, code: 'unsupported_media_type', field: null });
			expect(await snapshot(pool)).toEqual(before);
			// application/json with a charset is JSON
			const charset = await n8n.callWebhook(PATH, { body: { rating: 4, userId: 'u1' }, headers: { 'content-type': 'application/json; charset=utf-8' } });
			expectErrorAnswer(charset, { status: 400, code: 'field_required', field: 'executionId' });
		});

		it('malformed JSON → n8n\'s 422, without a stack trace or a path', async () => {
			const before = await snapshot(pool);
			const broken = await n8n.callWebhook(PATH, { rawBody: '{"executionId": "x", "rating": 5', headers: { 'content-type': 'application/json' } });
			expect(broken.status).toBe(422);
			expectNoInternals(broken.text);
			expect(await snapshot(pool)).toEqual(before);
		});

		it('a wrong method → n8n\'s 404, without a stack trace or a path', async () => {
			const wrong = await n8n.callWebhook(PATH, { method: 'GET' });
			expect(wrong.status).toBe(404);
			expectNoInternals(wrong.text);
			const put = await n8n.callWebhook(PATH, { method: 'PUT', body: { executionId, rating: 5, userId: 'u1' } });
			expect(put.status).toBe(404);
			expectNoInternals(put.text);
		});

		it('a body above 64 KiB → 413 payload_too_large from the workflow; above n8n\'s own limit n8n refuses it, without a stack trace or a path; nothing stored', async () => {
			const before = await snapshot(pool);
			const large = await n8n.postWebhook(PATH, { executionId, rating: 5, userId: 'big', comment: 'x'.repeat(100 * 1024) });
			expectErrorAnswer(large, { status: 413, code: 'payload_too_large', field: null });
			// Bodies above N8N_PAYLOAD_SIZE_MAX never reach the workflow; n8n 2.8.4 answers them with a 500 of its own.
			const huge = await n8n.callWebhook(PATH, {
				rawBody: JSON.stringify({ executionId, rating: 5, userId: 'big', comment: 'x'.repeat(PAYLOAD_SIZE_MAX_MIB * 1024 * 1024) }),
				headers: { 'content-type': 'application/json' },
			});
			expect(huge.status).toBe(500);
			expectNoInternals(huge.text);
			expect(await snapshot(pool)).toEqual(before);
		});
	});

	it('answers 503 database_unavailable when the database is unreachable, and records nothing', async () => {
		const credential = n8n.credentials[POSTGRES_CREDENTIAL_TYPE];
		const { data } = await n8n.client.request<{ data: Record<string, unknown> }>('GET', `/rest/credentials/${credential.id}`, undefined, {
			includeData: 'true',
		});
		const before = await snapshot(pool);
		await n8n.client.upsertCredential(credential.name, credential.type, { ...data, port: await freePort() });
		try {
			const answer = await n8n.postWebhook(PATH, { executionId, rating: 3, userId: 'frank' });
			// the node fails the item with the connection error itself (not a bare pass-through)
			const error = expectErrorAnswer(answer, { status: 503, code: 'database_unavailable', field: null });
			expect(error.hint).toMatch(/Host and Port/);
		} finally {
			await n8n.client.upsertCredential(credential.name, credential.type, data);
		}
		expect(await snapshot(pool)).toEqual(before);
		expect((await n8n.postWebhook(PATH, { executionId, rating: 3, userId: 'frank' })).status).toBe(200);
	});

	describe('with Header Auth switched on (a copy of the workflow)', () => {
		it('refuses calls without the header or with a wrong value, and records with the right one', async () => {
			const before = await snapshot(pool);
			// n8n's own answer (the workflow never runs): { code: 403, message: 'Authorization data is wrong!' }
			const missing = await n8n.callWebhook(AUTH_PATH, { body: { executionId, rating: 5, userId: 'eve' } });
			expect(missing.status).toBe(403);
			expectNoInternals(missing.text);
			const wrong = await n8n.callWebhook(AUTH_PATH, { headers: { [API_KEY_HEADER]: 'guess' }, body: { executionId, rating: 5, userId: 'eve' } });
			expect(wrong.status).toBe(403);
			expectNoInternals(wrong.text);
			expect(await snapshot(pool)).toEqual(before);

			const allowed = await n8n.callWebhook(AUTH_PATH, { headers: { [API_KEY_HEADER]: API_KEY }, body: { executionId, rating: 5, userId: 'eve' } });
			expect(allowed.status).toBe(200);
			expect(allowed.body).toMatchObject({ feedback: { userId: 'eve', rating: 5 }, duplicate: false });
		});
	});
});
