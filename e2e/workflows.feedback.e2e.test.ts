/**
 * workflows/feedback.json on the real n8n: POST /webhook/promptlab/feedback records a rating
 * through the Record Feedback node and answers with the version's updated stats; bad requests get
 * a 4xx naming the field and change nothing in Postgres; header auth works when switched on.
 */
import type { Pool } from 'pg';

import { closeAllPools } from '../lib/db/pool';
import { POSTGRES_CREDENTIAL_TYPE } from '../scripts/n8n/stack';
import { freePort } from '../dev/postgres';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { comfyExecution, createTextTemplate, dataPool, loggedExecution, snapshot } from './support/promptlab-data';
import { assertNodesDeclared, findNode, readWorkflow, shippedWorkflow, writeWorkflowCopy } from './support/workflows';

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

interface ErrorAnswer {
	error: string;
	field: string | null;
	status: number;
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

	describe('refuses bad requests with a 4xx that names the problem, and changes nothing', () => {
		const cases: Array<{ title: string; body: () => unknown; status: number; field: string | null; message: RegExp }> = [
			{ title: 'rating missing', body: () => ({ executionId, userId: 'u1' }), status: 400, field: 'rating', message: /Rating must be a whole number from 1 to 5 \(got nothing\)/ },
			{ title: 'rating 9', body: () => ({ executionId, rating: 9, userId: 'u1' }), status: 400, field: 'rating', message: /Rating must be a whole number from 1 to 5 \(got 9\)/ },
			{ title: 'rating 0', body: () => ({ executionId, rating: 0, userId: 'u1' }), status: 400, field: 'rating', message: /got 0/ },
			{ title: 'rating 3.5', body: () => ({ executionId, rating: 3.5, userId: 'u1' }), status: 400, field: 'rating', message: /got 3\.5/ },
			{ title: 'rating "five"', body: () => ({ executionId, rating: 'five', userId: 'u1' }), status: 400, field: 'rating', message: /got "five"/ },
			{ title: 'rating as an object', body: () => ({ executionId, rating: { stars: 5 }, userId: 'u1' }), status: 400, field: 'rating', message: /Rating must be a whole number/ },
			{ title: 'userId missing', body: () => ({ executionId, rating: 4 }), status: 400, field: 'userId', message: /User ID is required/ },
			{ title: 'userId blank', body: () => ({ executionId, rating: 4, userId: '   ' }), status: 400, field: 'userId', message: /User ID is required/ },
			{ title: 'userId too long', body: () => ({ executionId, rating: 4, userId: 'u'.repeat(300) }), status: 400, field: 'userId', message: /User ID is longer than 256 characters/ },
			{ title: 'no execution id nor prompt id', body: () => ({ rating: 4, userId: 'u1' }), status: 400, field: 'executionId', message: /An execution ID or a ComfyUI prompt ID is required/ },
			{ title: 'executionId not a UUID', body: () => ({ executionId: 'abc', rating: 4, userId: 'u1' }), status: 400, field: 'executionId', message: /Execution ID must be the UUID/ },
			{ title: 'executionId a number', body: () => ({ executionId: 12345, rating: 4, userId: 'u1' }), status: 400, field: 'executionId', message: /Execution ID must be/ },
			{ title: 'comment longer than 4000 characters', body: () => ({ executionId, rating: 4, userId: 'u1', comment: 'x'.repeat(4001) }), status: 400, field: 'comment', message: /Comment is longer than 4000 characters/ },
			{ title: 'comment not text', body: () => ({ executionId, rating: 4, userId: 'u1', comment: ['a'] }), status: 400, field: 'comment', message: /Comment must be text/ },
			{ title: 'unknown execution id', body: () => ({ executionId: '00000000-0000-4000-8000-000000000000', rating: 4, userId: 'u1' }), status: 404, field: 'executionId', message: /Execution 00000000-0000-4000-8000-000000000000 not found/ },
			{ title: 'unknown prompt id', body: () => ({ promptId: 'no-such-prompt', rating: 4, userId: 'u1' }), status: 404, field: 'promptId', message: /No execution with ComfyUI prompt ID no-such-prompt/ },
			{ title: 'idempotency key of another rating', body: () => ({ executionId, rating: 1, userId: 'dora', idempotencyKey: 'fb-1' }), status: 409, field: 'idempotencyKey', message: /Idempotency key "fb-1"/ },
			{ title: 'a JSON array instead of an object', body: () => [{ executionId, rating: 4, userId: 'u1' }], status: 400, field: 'rating', message: /Rating must be a whole number/ },
		];

		it.each(cases)('$title → $status', async ({ body, status, field, message }) => {
			const before = await snapshot(pool);
			const answer = await n8n.postWebhook(PATH, body());
			expect(answer.status).toBe(status);
			const error = answer.body as ErrorAnswer;
			expect(error.error).toMatch(message);
			expect(error.field).toBe(field);
			expect(await snapshot(pool)).toEqual(before);
		});

		it('a body that is not JSON → 4xx, nothing stored', async () => {
			const before = await snapshot(pool);
			const broken = await n8n.callWebhook(PATH, { rawBody: '{"executionId": "x", "rating": 5', headers: { 'content-type': 'application/json' } });
			expect(broken.status).toBeGreaterThanOrEqual(400);
			expect(broken.status).toBeLessThan(500);
			const text = await n8n.callWebhook(PATH, { rawBody: 'rating=5', headers: { 'content-type': 'text/plain' } });
			expect(text.status).toBe(400);
			expect(await snapshot(pool)).toEqual(before);
		});

		it('an oversized body → 413 from the workflow (above 64 KiB), and n8n\'s own refusal above its 16 MiB limit; nothing stored', async () => {
			const before = await snapshot(pool);
			const large = await n8n.postWebhook(PATH, { executionId, rating: 5, userId: 'big', comment: 'x'.repeat(100 * 1024) });
			expect(large.status).toBe(413);
			expect(large.body).toMatchObject({ error: expect.stringMatching(/request body is too large .*at most 65536/), field: null });
			// Bodies above N8N_PAYLOAD_SIZE_MAX never reach the workflow: n8n 2.8.4 turns raw-body's 413 into a 500.
			const huge = await n8n.postWebhook(PATH, { executionId, rating: 5, userId: 'big', comment: 'x'.repeat(17 * 1024 * 1024) });
			expect(huge.status).toBeGreaterThanOrEqual(400);
			expect(await snapshot(pool)).toEqual(before);
		});
	});

	it('answers 500 saying the database is unreachable, and records nothing', async () => {
		const credential = n8n.credentials[POSTGRES_CREDENTIAL_TYPE];
		const { data } = await n8n.client.request<{ data: Record<string, unknown> }>('GET', `/rest/credentials/${credential.id}`, undefined, {
			includeData: 'true',
		});
		const before = await snapshot(pool);
		await n8n.client.upsertCredential(credential.name, credential.type, { ...data, port: await freePort() });
		try {
			const answer = await n8n.postWebhook(PATH, { executionId, rating: 3, userId: 'frank' });
			expect(answer.status).toBe(500);
			// the node fails the item with the connection error itself (not a bare pass-through)
			expect(answer.body).toMatchObject({ error: expect.stringMatching(/refused the connection|ECONNREFUSED/) });
		} finally {
			await n8n.client.upsertCredential(credential.name, credential.type, data);
		}
		expect(await snapshot(pool)).toEqual(before);
		expect((await n8n.postWebhook(PATH, { executionId, rating: 3, userId: 'frank' })).status).toBe(200);
	});

	describe('with Header Auth switched on (a copy of the workflow)', () => {
		it('refuses calls without the header or with a wrong value, and records with the right one', async () => {
			const before = await snapshot(pool);
			const missing = await n8n.callWebhook(AUTH_PATH, { body: { executionId, rating: 5, userId: 'eve' } });
			expect(missing.status).toBe(403);
			const wrong = await n8n.callWebhook(AUTH_PATH, { headers: { [API_KEY_HEADER]: 'guess' }, body: { executionId, rating: 5, userId: 'eve' } });
			expect(wrong.status).toBe(403);
			expect(await snapshot(pool)).toEqual(before);

			const allowed = await n8n.callWebhook(AUTH_PATH, { headers: { [API_KEY_HEADER]: API_KEY }, body: { executionId, rating: 5, userId: 'eve' } });
			expect(allowed.status).toBe(200);
			expect(allowed.body).toMatchObject({ feedback: { userId: 'eve', rating: 5 }, duplicate: false });
		});
	});
});
