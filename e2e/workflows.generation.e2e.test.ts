/**
 * All shipped workflows (workflows/*.json) imported together as `npm start` does (no SMTP server),
 * then workflows/generation.json on the real n8n with the ComfyUI simulator: POST
 * /webhook/promptlab/generate renders a template, runs it through ComfyUI Execute and answers with
 * the execution id, metadata and the images as base64; everything lands in Postgres (executions,
 * generated_assets, template_stats). Bad requests get 4xx naming the field and store nothing;
 * ComfyUI failures get 502 with the recorded execution id. The closing loop: the image is rated
 * through the feedback webhook.
 */
import { createHash } from 'node:crypto';

import { readdirSync } from 'node:fs';

import type { Pool } from 'pg';

import { closeAllPools } from '../lib/db/pool';
import { createVersion, setLabel } from '../lib/db/templates';
import { WORKFLOWS_DIR } from '../scripts/n8n/paths';
import { COMFYUI_CREDENTIAL_TYPE } from '../scripts/n8n/stack';
import { readPngSize } from '../dev/comfyui-sim';
import { freePort } from '../dev/postgres';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { createImageTemplate, dataPool, snapshot } from './support/promptlab-data';
import { assertNodesDeclared, shippedWorkflow, type GenerationAnswer } from './support/workflows';

const SHIPPED = readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith('.json')).sort();
const PATH = 'promptlab/generate';

describe('workflow generation.json: POST /webhook/promptlab/generate', () => {
	let n8n: E2eN8n;
	let pool: Pool;
	const templateName = 'e2e-gen-sneaker';

	beforeAll(async () => {
		assertNodesDeclared(SHIPPED.map(shippedWorkflow));
		n8n = await startE2eN8n({ name: 'wf-generation', simulator: true, workflows: [WORKFLOWS_DIR] });
		pool = await dataPool(n8n.dataDatabaseUrl);
		await createImageTemplate(pool, templateName, { prompt: 'a photo of {{subject}}, {{style}}' });
		await createVersion(pool, { name: templateName }, { ...(await versionOne(pool)), positivePrompt: 'a drawing of {{subject}}, {{style}}', commitMessage: 'v2' }, ['staging']);
	});

	afterAll(async () => {
		await closeAllPools();
		await n8n?.stop();
	});

	async function versionOne(db: Pool) {
		const { rows } = await db.query<{ workflow: unknown; variables: unknown }>(
			`SELECT v.workflow, v.variables FROM promptlab.template_versions v JOIN promptlab.templates t ON t.id = v.template_id
			 WHERE t.name = $1 AND v.version = 1`,
			[templateName],
		);
		return { workflow: rows[0].workflow, variables: rows[0].variables };
	}

	it('imports and publishes every shipped workflow, each with its production webhooks', () => {
		expect(n8n.workflows.map((w) => w.file.split('/').pop()).sort()).toEqual(SHIPPED);
		for (const workflow of n8n.workflows) {
			expect({ name: workflow.name, activationError: workflow.activationError, active: workflow.active }).toEqual({
				name: workflow.name,
				activationError: undefined,
				active: true,
			});
			expect(workflow.webhooks.length).toBeGreaterThan(0);
			for (const hook of workflow.webhooks) expect(hook.path).toMatch(/^promptlab\//);
		}
	});

	it('without an SMTP credential the weekly report still previews, and asking for the e-mail says what is missing', async () => {
		const preview = await n8n.callWebhook('promptlab/report', { query: { send: 'false' } });
		expect(preview.status).toBe(200);
		expect(preview.headers.get('content-type')).toMatch(/^text\/html/);
		const send = await n8n.callWebhook('promptlab/report');
		expect(send.status).toBe(502);
		expect(send.body).toMatchObject({ error: expect.stringMatching(/e-mail was not sent: .*(credential|SMTP)/i) });
	});

	it('generates from the production label and answers with the execution, its metadata and the image', async () => {
		const { status, body } = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a red sneaker' }, userId: 'ana' });
		expect(status).toBe(200);
		const answer = body as GenerationAnswer;
		expect(answer).toMatchObject({
			status: 'succeeded',
			template: { name: templateName, version: 1 },
			campaign: null,
			userId: 'ana',
			positivePrompt: 'a photo of a red sneaker, studio light',
			imageCount: 1,
		});
		expect(answer.executionId).toMatch(/^[0-9a-f-]{36}$/);
		const [image] = answer.images;
		const png = Buffer.from(image.base64, 'base64');
		expect(image.mimeType).toBe('image/png');
		expect(png.length).toBe(image.bytes);
		expect(createHash('sha256').update(png).digest('hex')).toBe(image.sha256);
		expect(readPngSize(png)).toEqual({ width: 64, height: 64 });

		const executions = await n8n.queryData<{ status: string; user_id: string; version: number; prompt_id: string }>(
			`SELECT e.status, e.user_id, v.version, e.prompt_id FROM promptlab.executions e
			 JOIN promptlab.template_versions v ON v.id = e.version_id WHERE e.id = $1`,
			[answer.executionId],
		);
		expect(executions).toEqual([{ status: 'succeeded', user_id: 'ana', version: 1, prompt_id: answer.promptId }]);
		const assets = await n8n.queryData<{ filename: string; sha256: string; bytes: string; mime_type: string }>(
			'SELECT filename, sha256, bytes::text, mime_type FROM promptlab.generated_assets WHERE execution_id = $1',
			[answer.executionId],
		);
		expect(assets).toEqual([{ filename: image.filename, sha256: image.sha256, bytes: String(image.bytes), mime_type: 'image/png' }]);
		// The prompt really went to ComfyUI.
		const submitted = n8n.sim?.submitted.find((p) => p.promptId === answer.promptId);
		expect(JSON.stringify(submitted?.prompt)).toContain('a photo of a red sneaker, studio light');
	});

	it('picks a label or pins a version', async () => {
		const staging = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a boot' }, userId: 'ben', label: 'staging' });
		expect(staging.status).toBe(200);
		expect(staging.body).toMatchObject({ template: { version: 2 }, positivePrompt: 'a drawing of a boot, studio light' });
		const pinned = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a boot', style: 'noir' }, userId: 'ben', version: 1 });
		expect(pinned.status).toBe(200);
		expect(pinned.body).toMatchObject({ template: { version: 1 }, positivePrompt: 'a photo of a boot, noir' });
	});

	it('closes the loop: the image is rated through the feedback webhook', async () => {
		const generated = (await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a hat' }, userId: 'cleo' })).body as GenerationAnswer;
		const rated = await n8n.postWebhook('promptlab/feedback', { executionId: generated.executionId, rating: 4, userId: 'cleo' });
		expect(rated.status).toBe(200);
		expect(rated.body).toMatchObject({ feedback: { executionId: generated.executionId, rating: 4 }, stats: { ratingCount: 1 } });
	});

	describe('refuses bad requests with a 4xx naming the field, and stores nothing', () => {
		const cases: Array<{ title: string; body: () => unknown; status: number; field: string | null; message: RegExp }> = [
			{ title: 'template missing', body: () => ({ variables: { subject: 'x' }, userId: 'u' }), status: 400, field: 'template', message: /template is required/ },
			{ title: 'template a number', body: () => ({ template: 42, userId: 'u' }), status: 400, field: 'template', message: /template must be the name/ },
			{ title: 'variables an array', body: () => ({ template: templateName, variables: ['x'], userId: 'u' }), status: 400, field: 'variables', message: /variables must be a JSON object/ },
			{ title: 'userId missing', body: () => ({ template: templateName, variables: { subject: 'x' } }), status: 400, field: 'userId', message: /userId is required/ },
			{ title: 'version 1.5', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', version: 1.5 }), status: 400, field: 'version', message: /version must be a whole number/ },
			{ title: 'label and version', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', version: 1, label: 'staging' }), status: 400, field: 'version', message: /either label or version/ },
			{ title: 'a JSON array body', body: () => [{ template: templateName }], status: 400, field: null, message: /body must be a JSON object/ },
			{ title: 'a required variable missing', body: () => ({ template: templateName, variables: {}, userId: 'u' }), status: 400, field: 'variables', message: /subject/ },
			{ title: 'an undeclared variable', body: () => ({ template: templateName, variables: { subject: 'x', colour: 'red' }, userId: 'u' }), status: 400, field: 'variables', message: /colour/ },
			{ title: 'a variable too long', body: () => ({ template: templateName, variables: { subject: 'x'.repeat(201) }, userId: 'u' }), status: 400, field: 'variables', message: /subject/ },
			{ title: 'unknown template', body: () => ({ template: 'no-such-template', variables: {}, userId: 'u' }), status: 404, field: 'template', message: /Template "no-such-template" not found/ },
			{ title: 'unknown version', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', version: 99 }), status: 404, field: 'version', message: /has no version 99/ },
			{ title: 'unknown label', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', label: 'nightly' }), status: 404, field: 'label', message: /has no label "nightly"/ },
			{ title: 'a body above 256 KiB', body: () => ({ template: templateName, variables: { subject: 'x'.repeat(300_000) }, userId: 'u' }), status: 413, field: null, message: /too large/ },
		];

		it.each(cases)('$title → $status', async ({ body, status, field, message }) => {
			const before = await snapshot(pool);
			const submittedBefore = n8n.sim?.submitted.length;
			const answer = await n8n.postWebhook(PATH, body());
			expect(answer.status).toBe(status);
			expect(answer.body).toMatchObject({ error: expect.stringMatching(message), field });
			expect(await snapshot(pool)).toEqual(before);
			expect(n8n.sim?.submitted.length).toBe(submittedBefore);
		});

		it('a body that is not JSON → 4xx, nothing stored', async () => {
			const before = await snapshot(pool);
			const answer = await n8n.callWebhook(PATH, { rawBody: '{"template": ', headers: { 'content-type': 'application/json' } });
			expect(answer.status).toBeGreaterThanOrEqual(400);
			expect(answer.status).toBeLessThan(500);
			expect(await snapshot(pool)).toEqual(before);
		});
	});

	it('a ComfyUI failure → 502 naming the ComfyUI node, with the execution recorded as failed', async () => {
		n8n.sim!.faults.executionErrorAtNode = '3';
		n8n.sim!.faults.executionErrorMessage = 'CUDA out of memory (simulated)';
		try {
			const answer = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a failing shoe' }, userId: 'dan' });
			expect(answer.status).toBe(502);
			const error = answer.body as { error: string; code: string; executionId: string };
			expect(error).toMatchObject({ code: 'execution', error: expect.stringMatching(/KSampler|node 3/) });
			const rows = await n8n.queryData<{ status: string; error: unknown }>('SELECT status, error FROM promptlab.executions WHERE id = $1', [error.executionId]);
			expect(rows).toEqual([{ status: 'failed', error: expect.anything() }]);
		} finally {
			n8n.sim!.faults.executionErrorAtNode = undefined;
		}
	});

	it('ComfyUI unreachable → 502 with code "unreachable"', async () => {
		const credential = n8n.credentials[COMFYUI_CREDENTIAL_TYPE];
		const { data } = await n8n.client.request<{ data: Record<string, unknown> }>('GET', `/rest/credentials/${credential.id}`, undefined, {
			includeData: 'true',
		});
		await n8n.client.upsertCredential(credential.name, credential.type, { ...data, baseUrl: `http://127.0.0.1:${await freePort()}` });
		try {
			const answer = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a sock' }, userId: 'gus' });
			expect(answer.status).toBe(502);
			expect(answer.body).toMatchObject({ code: 'unreachable', error: expect.any(String) });
		} finally {
			await n8n.client.upsertCredential(credential.name, credential.type, data);
		}
	});

	it('keeps a label move visible to the next call (no caching of versions in n8n)', async () => {
		await setLabel(pool, { name: templateName }, 'production', 2, { movedBy: 'e2e', reason: 'test' });
		const answer = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a cap' }, userId: 'eve' });
		expect(answer.body).toMatchObject({ template: { version: 2 } });
	});
});
