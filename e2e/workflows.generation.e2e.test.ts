/**
 * All shipped workflows (workflows/*.json) imported together as `npm start` does (no SMTP server),
 * then workflows/generation.json on the real n8n with the ComfyUI simulator: POST
 * /webhook/promptlab/generate renders a template, runs it through ComfyUI Execute and answers with
 * the execution id, metadata and the images as base64; everything lands in Postgres (executions,
 * generated_assets, template_stats). Bad and hostile requests get the status of their error `code`
 * naming the field and store nothing; ComfyUI failures get 502/503 with the recorded execution id.
 * The closing loop: the image is rated through the feedback webhook.
 */
import { createHash } from 'node:crypto';

import { readdirSync } from 'node:fs';

import type { Pool } from 'pg';

import { closeAllPools } from '../lib/db/pool';
import { setLabel } from '../lib/db/templates';
import { createVersion } from '../lib/templates/manage';
import { WORKFLOWS_DIR } from '../scripts/n8n/paths';
import { COMFYUI_CREDENTIAL_TYPE } from '../scripts/n8n/stack';
import { readPngSize } from '../dev/comfyui-sim';
import { freePort } from '../dev/postgres';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { createImageTemplate, dataPool, snapshot } from './support/promptlab-data';
import {
	assertNodesDeclared,
	expectErrorAnswer,
	expectNoInternals,
	findNode,
	readWorkflow,
	shippedWorkflow,
	writeWorkflowCopy,
	type GenerationAnswer,
} from './support/workflows';

const SHIPPED = readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith('.json')).sort();
const PATH = 'promptlab/generate';
const LIMITED_PATH = 'promptlab/generate-limited';

/** The shipped Generation API with one job per user and day (Generate Image → Options), on another path. */
function limitedCopy(): string {
	const workflow = readWorkflow(shippedWorkflow('generation.json'));
	workflow.id = 'PromptLabGenLimit';
	workflow.name = `${workflow.name} (1 job per user and day)`;
	const hook = findNode(workflow, 'Generation Webhook');
	hook.webhookId = '9e3c1a7b-5d2f-4e8a-b6c0-1f2e3d4c5b6a';
	hook.parameters = { ...hook.parameters, path: LIMITED_PATH };
	const generate = findNode(workflow, 'Generate Image');
	const parameters = generate.parameters as { options: Record<string, unknown> };
	parameters.options = { ...parameters.options, maxJobsPerDayPerUser: 1 };
	return writeWorkflowCopy(workflow, 'generation-limited.json');
}

/** Every string in a node's parameters (expressions included), with where it is. */
function parameterStrings(value: unknown, path: string): Array<{ path: string; text: string }> {
	if (typeof value === 'string') return [{ path, text: value }];
	if (Array.isArray(value)) return value.flatMap((v, i) => parameterStrings(v, `${path}[${i}]`));
	if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => parameterStrings(v, `${path}.${k}`));
	return [];
}

describe('the shipped workflows, read as files', () => {
	it('never look at error message text: every status comes from the error code', () => {
		const offending = SHIPPED.flatMap((file) =>
			readWorkflow(shippedWorkflow(file)).nodes.flatMap((node) =>
				parameterStrings(node.parameters, `${file} › ${node.name}`).filter(
					({ text }) => /\$json\.(error|description|message)\b/.test(text) && /\.(test|match|matchAll|includes|startsWith|endsWith|search|indexOf)\(/.test(text),
				),
			),
		);
		expect(offending).toEqual([]);
		// and the old parse-the-description trick is gone for good
		const descriptions = SHIPPED.flatMap((file) =>
			readWorkflow(shippedWorkflow(file)).nodes.flatMap((node) => parameterStrings(node.parameters, `${file} › ${node.name}`).filter(({ text }) => text.includes('$json.description'))),
		);
		expect(descriptions).toEqual([]);
	});
});

describe('workflow generation.json: POST /webhook/promptlab/generate', () => {
	let n8n: E2eN8n;
	let pool: Pool;
	const templateName = 'e2e-gen-sneaker';

	beforeAll(async () => {
		assertNodesDeclared(SHIPPED.map(shippedWorkflow));
		n8n = await startE2eN8n({ name: 'wf-generation', simulator: true, workflows: [WORKFLOWS_DIR, limitedCopy()] });
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
		const shipped = n8n.workflows.filter((w) => w.id !== 'PromptLabGenLimit');
		expect(shipped.map((w) => w.file.split('/').pop()).sort()).toEqual(SHIPPED);
		for (const workflow of shipped) {
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
		const error = expectErrorAnswer(send, { status: 502, code: 'email_not_sent', field: null });
		expect(error.error).toMatch(/e-mail was not sent: .*(credential|SMTP)/i);
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

	describe('refuses bad requests with the status of their code, naming the field, and stores nothing', () => {
		const cases: Array<{ title: string; body: () => unknown; status: number; code: string; field: string | null | RegExp }> = [
			{ title: 'template missing', body: () => ({ variables: { subject: 'x' }, userId: 'u' }), status: 400, code: 'field_required', field: /^template/ },
			{ title: 'variables an array', body: () => ({ template: templateName, variables: ['x'], userId: 'u' }), status: 400, code: 'invalid_input', field: 'values' },
			{ title: 'userId missing', body: () => ({ template: templateName, variables: { subject: 'x' } }), status: 400, code: 'field_required', field: 'userId' },
			{ title: 'version 1.5', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', version: 1.5 }), status: 400, code: 'invalid_input', field: 'version' },
			{ title: 'label and version', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', version: 1, label: 'staging' }), status: 400, code: 'invalid_input', field: 'version' },
			{ title: 'a campaign and a template', body: () => ({ campaign: 'c', template: templateName, userId: 'u' }), status: 400, code: 'invalid_input', field: 'template' },
			{ title: 'a JSON array body', body: () => [{ template: templateName }], status: 400, code: 'invalid_body', field: null },
			{ title: 'a JSON string body', body: () => 'product-hero', status: 400, code: 'invalid_body', field: null },
			{ title: 'a required variable missing', body: () => ({ template: templateName, variables: {}, userId: 'u' }), status: 400, code: 'variable_missing', field: 'values.subject' },
			{ title: 'an undeclared variable', body: () => ({ template: templateName, variables: { subject: 'x', colour: 'red' }, userId: 'u' }), status: 400, code: 'variable_unknown', field: 'values.colour' },
			{ title: 'a variable too long', body: () => ({ template: templateName, variables: { subject: 'x'.repeat(201) }, userId: 'u' }), status: 400, code: 'variable_invalid', field: 'values.subject' },
			{ title: 'a number for a string variable', body: () => ({ template: templateName, variables: { subject: 42 }, userId: 'u' }), status: 400, code: 'variable_invalid', field: 'values.subject' },
			{ title: 'a NUL byte in a variable value', body: () => ({ template: templateName, variables: { subject: 'a shoe\u0000' }, userId: 'u' }), status: 400, code: 'invalid_text', field: 'values.subject' },
			{ title: 'a lone surrogate in a variable value', body: () => ({ template: templateName, variables: { subject: 'a shoe \udc00' }, userId: 'u' }), status: 400, code: 'invalid_text', field: 'values.subject' },
			{ title: 'a NUL byte in the userId', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u\u0000' }), status: 400, code: 'invalid_text', field: 'userId' },
			{ title: 'a NUL byte in the campaign', body: () => ({ campaign: 'hero\u0000', variables: { subject: 'x' }, userId: 'u' }), status: 400, code: 'invalid_text', field: /^campaign/ },
			{ title: 'unknown template', body: () => ({ template: 'no-such-template', variables: {}, userId: 'u' }), status: 404, code: 'template_not_found', field: 'template' },
			{ title: 'unknown version', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', version: 99 }), status: 404, code: 'version_not_found', field: 'version' },
			{ title: 'unknown label', body: () => ({ template: templateName, variables: { subject: 'x' }, userId: 'u', label: 'nightly' }), status: 404, code: 'label_not_found', field: 'label' },
			{ title: 'unknown campaign', body: () => ({ campaign: 'no-such-campaign', variables: { subject: 'x' }, userId: 'u' }), status: 404, code: 'campaign_not_found', field: 'campaign' },
			{ title: 'a body above 256 KiB', body: () => ({ template: templateName, variables: { subject: 'x'.repeat(300_000) }, userId: 'u' }), status: 413, code: 'payload_too_large', field: null },
		];

		it.each(cases)('$title → $status $code', async ({ body, status, code, field }) => {
			const before = await snapshot(pool);
			const submittedBefore = n8n.sim?.submitted.length;
			const answer = await n8n.callWebhook(PATH, { rawBody: JSON.stringify(body()), headers: { 'content-type': 'application/json' } });
			const error = expectErrorAnswer(answer, { status, code, field: field instanceof RegExp ? undefined : field });
			if (field instanceof RegExp) expect(error.field).toMatch(field);
			expect(await snapshot(pool)).toEqual(before);
			expect(n8n.sim?.submitted.length).toBe(submittedBefore);
		});

		it('bytes that are not UTF-8 in a variable value → 400 invalid_text, nothing generated', async () => {
			const before = await snapshot(pool);
			const raw = Buffer.concat([
				Buffer.from(`{"template": "${templateName}", "userId": "u", "variables": {"subject": "caf`),
				Buffer.from([0xc3, 0x28]),
				Buffer.from('"}}'),
			]);
			const answer = await n8n.callWebhook(PATH, { rawBody: raw, headers: { 'content-type': 'application/json' } });
			expectErrorAnswer(answer, { status: 400, code: 'invalid_text', field: 'values.subject' });
			expect(await snapshot(pool)).toEqual(before);
		});

		it('a form-encoded body → 415; malformed JSON → 422 and a wrong method → 404 from n8n, without a stack trace or a path', async () => {
			const before = await snapshot(pool);
			const form = await n8n.callWebhook(PATH, { rawBody: `template=${templateName}&userId=u`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
			expectErrorAnswer(form, { status: 415, code: 'unsupported_media_type', field: null });
			const broken = await n8n.callWebhook(PATH, { rawBody: '{"template": ', headers: { 'content-type': 'application/json' } });
			expect(broken.status).toBe(422);
			expectNoInternals(broken.text);
			const wrong = await n8n.callWebhook(PATH, { method: 'DELETE' });
			expect(wrong.status).toBe(404);
			expectNoInternals(wrong.text);
			expect(await snapshot(pool)).toEqual(before);
		});
	});

	it('a template whose stored workflow is in ComfyUI\'s UI format → 400 workflow_ui_format naming the workflow', async () => {
		// Prompt Template refuses a UI-format workflow when a version is saved, so this one is written
		// behind its back (versions are immutable: the trigger is skipped for this one statement), as a
		// hand-edited or legacy row would be.
		const { template } = await createImageTemplate(pool, 'e2e-gen-ui-format');
		const uiFormat = { last_node_id: 9, last_link_id: 9, nodes: [{ id: 3, type: 'KSampler', inputs: [], outputs: [], widgets_values: [] }], links: [], version: 0.4 };
		const client = await pool.connect();
		try {
			await client.query('BEGIN');
			await client.query('SET LOCAL session_replication_role = replica');
			await client.query('UPDATE promptlab.template_versions SET workflow = $1 WHERE template_id = $2', [uiFormat, template.id]);
			await client.query('COMMIT');
		} finally {
			client.release();
		}
		// Whoever notices (our check before submitting, or ComfyUI's 400), the caller gets the same code.
		const answer = await n8n.postWebhook(PATH, { template: 'e2e-gen-ui-format', variables: { subject: 'x' }, userId: 'u' });
		expectErrorAnswer(answer, { status: 400, code: 'workflow_ui_format', field: 'workflow' });
	});

	it('a ComfyUI failure → 502 naming the ComfyUI node, with the execution recorded as failed', async () => {
		n8n.sim!.faults.executionErrorAtNode = '3';
		n8n.sim!.faults.executionErrorMessage = 'CUDA out of memory (simulated)';
		try {
			const answer = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a failing shoe' }, userId: 'dan' });
			expectErrorAnswer(answer, { status: 502, code: 'comfyui_execution_failed' });
			const error = answer.body as { error: string; code: string; executionId: string };
			expect(error.error).toMatch(/KSampler|node 3/);
			const rows = await n8n.queryData<{ status: string; error: unknown }>('SELECT status, error FROM promptlab.executions WHERE id = $1', [error.executionId]);
			expect(rows).toEqual([{ status: 'failed', error: expect.anything() }]);
		} finally {
			n8n.sim!.faults.executionErrorAtNode = undefined;
		}
	});

	it('ComfyUI unreachable → 503 comfyui_unreachable', async () => {
		const credential = n8n.credentials[COMFYUI_CREDENTIAL_TYPE];
		const { data } = await n8n.client.request<{ data: Record<string, unknown> }>('GET', `/rest/credentials/${credential.id}`, undefined, {
			includeData: 'true',
		});
		await n8n.client.upsertCredential(credential.name, credential.type, { ...data, baseUrl: `http://127.0.0.1:${await freePort()}` });
		try {
			const answer = await n8n.callWebhook(PATH, { body: { template: templateName, variables: { subject: 'a sock' }, userId: 'gus' } });
			expectErrorAnswer(answer, { status: 503, code: 'comfyui_unreachable' });
			expect(answer.headers.get('x-promptlab-error')).toBe('comfyui_unreachable');
			expect(answer.headers.get('retry-after')).toBeNull();
		} finally {
			await n8n.client.upsertCredential(credential.name, credential.type, data);
		}
	});

	it('a user over the per-user limit set on Generate Image → 429 quota_exceeded with retryAfterSeconds; nothing sent or stored', async () => {
		const request = { template: templateName, variables: { subject: 'a scarf' }, userId: 'quota-user' };
		expect((await n8n.postWebhook(LIMITED_PATH, request)).status).toBe(200);
		const before = await snapshot(pool);
		const submitted = n8n.sim?.submitted.length;
		const answer = await n8n.callWebhook(LIMITED_PATH, { body: request });
		expectErrorAnswer(answer, { status: 429, code: 'quota_exceeded', field: 'userId' });
		const retryAfter = (answer.body as { retryAfterSeconds?: unknown }).retryAfterSeconds;
		expect(retryAfter).toEqual(expect.any(Number));
		expect(answer.headers.get('retry-after')).toBe(String(retryAfter));
		expect(await snapshot(pool)).toEqual(before);
		expect(n8n.sim?.submitted.length).toBe(submitted);
		// another user still gets a job
		expect((await n8n.postWebhook(LIMITED_PATH, { ...request, userId: 'quota-user-2' })).status).toBe(200);
	});

	it('keeps a label move visible to the next call (no caching of versions in n8n)', async () => {
		await setLabel(pool, { name: templateName }, 'production', 2, { movedBy: 'e2e', reason: 'test' });
		const answer = await n8n.postWebhook(PATH, { template: templateName, variables: { subject: 'a cap' }, userId: 'eve' });
		expect(answer.body).toMatchObject({ template: { version: 2 } });
	});
});
