/**
 * workflows/product-showcase.json on the real n8n with a pool of two ComfyUI simulators: one
 * product brief becomes a hero image plus four lifestyle variations, generated in parallel across
 * the pool, stored as one gallery (generated_assets.gallery_id = productId) and answered as such.
 * Failed shots carry their error `code` (an unknown template: template_not_found, as everywhere).
 */
import { createHash } from 'node:crypto';

import type { Pool } from 'pg';

import { closeAllPools } from '../lib/db/pool';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { createImageTemplate, dataPool, snapshot } from './support/promptlab-data';
import { assertNodesDeclared, expectErrorAnswer, findNode, readWorkflow, shippedWorkflow, writeWorkflowCopy } from './support/workflows';

const SHOWCASE = shippedWorkflow('product-showcase.json');
const PATH = 'promptlab/showcase';
const MISCONFIGURED_PATH = 'promptlab/showcase-misconfigured';

/** The shipped workflow with a hero template that does not exist (another path and id). */
function misconfiguredCopy(): string {
	const workflow = readWorkflow(SHOWCASE);
	workflow.id = 'PromptLabShowBad';
	workflow.name = `${workflow.name} (unknown hero template)`;
	const hook = findNode(workflow, 'Showcase Webhook');
	hook.webhookId = '5d2e8f0a-6b1c-4d3e-9f7a-2c4b6d8e0f1a';
	hook.parameters = { ...hook.parameters, path: MISCONFIGURED_PATH };
	const settings = findNode(workflow, 'Showcase Settings');
	const assignments = (settings.parameters as { assignments: { assignments: Array<{ name: string; value: unknown }> } }).assignments.assignments;
	const hero = assignments.find((a) => a.name === 'heroTemplate');
	if (!hero) throw new Error('Showcase Settings has no heroTemplate');
	hero.value = 'no-such-hero-template';
	return writeWorkflowCopy(workflow, 'product-showcase-misconfigured.json');
}

interface GalleryAnswer {
	productId: string;
	galleryId: string;
	imageCount: number;
	images: Array<{ shot: string; executionId: string; template: string; version: number; filename: string; mimeType: string; bytes: number; sha256: string; base64?: string }>;
	failed: Array<{ shot: string; code: string; error: string; field?: string; executionId?: string }>;
	code?: string;
	error?: string;
}

describe('workflow product-showcase.json: POST /webhook/promptlab/showcase', () => {
	let n8n: E2eN8n;
	let pool: Pool;

	beforeAll(async () => {
		assertNodesDeclared([SHOWCASE]);
		// Each simulated node takes 60 ms: five jobs on one server would queue behind each other.
		n8n = await startE2eN8n({ name: 'wf-showcase', simulator: { nodeTimeMs: 60 }, simulatorPool: 2, workflows: [SHOWCASE, misconfiguredCopy()] });
		pool = await dataPool(n8n.dataDatabaseUrl);
		const product = [
			{ name: 'product', type: 'string', maxLength: 200 },
			{ name: 'description', type: 'string', maxLength: 2000 },
			{ name: 'style', type: 'string', maxLength: 200, default: 'studio light' },
		];
		await createImageTemplate(pool, 'product-hero', { prompt: 'hero shot of {{product}}, {{description}}, {{style}}', variables: product });
		await createImageTemplate(pool, 'product-lifestyle', {
			prompt: '{{product}} ({{description}}) {{scene}}, {{style}}',
			variables: [...product, { name: 'scene', type: 'string', maxLength: 200 }],
		});
	});

	afterAll(async () => {
		await closeAllPools();
		await n8n?.stop();
	});

	it('generates the hero and four lifestyle shots in parallel across the pool and stores them as one gallery', async () => {
		const { status, body } = await n8n.postWebhook(PATH, { productId: 'sku-1234', name: 'Trail runner', description: 'lightweight red running shoe' });
		expect(status).toBe(200);
		const gallery = body as GalleryAnswer;
		expect(gallery).toMatchObject({ productId: 'sku-1234', galleryId: 'sku-1234', imageCount: 5, failed: [] });
		expect(gallery.images.map((i) => i.shot).sort()).toEqual(['hero', 'lifestyle-1', 'lifestyle-2', 'lifestyle-3', 'lifestyle-4']);
		for (const image of gallery.images) {
			const png = Buffer.from(image.base64 ?? '', 'base64');
			expect(createHash('sha256').update(png).digest('hex')).toBe(image.sha256);
			expect(image.template).toBe(image.shot === 'hero' ? 'product-hero' : 'product-lifestyle');
		}
		expect(new Set(gallery.images.map((i) => i.executionId)).size).toBe(5);

		const assets = await n8n.queryData<{ execution_id: string; sha256: string; server: string; status: string }>(
			`SELECT a.execution_id, a.sha256, e.server, e.status FROM promptlab.generated_assets a
			 JOIN promptlab.executions e ON e.id = a.execution_id WHERE a.gallery_id = $1`,
			['sku-1234'],
		);
		expect(assets).toHaveLength(5);
		expect(assets.every((a) => a.status === 'succeeded')).toBe(true);
		expect(assets.map((a) => a.sha256).sort()).toEqual(gallery.images.map((i) => i.sha256).sort());
		// Across the pool: both servers got work.
		expect(new Set(assets.map((a) => a.server)).size).toBe(2);
		expect(n8n.sims.map((s) => s.submitted.length).every((n) => n > 0)).toBe(true);

		// Each scene reached ComfyUI.
		const prompts = n8n.sims.flatMap((s) => s.submitted.map((p) => JSON.stringify(p.prompt)));
		expect(prompts.filter((p) => p.includes('Trail runner (lightweight red running shoe) in a cozy living room'))).toHaveLength(1);
		expect(prompts.filter((p) => p.includes('hero shot of Trail runner'))).toHaveLength(1);
	});

	it('runs the shots in parallel across the pool: every server is busy before the first shot finishes', async () => {
		const before = n8n.sims.map((s) => s.submitted.length);
		const { status } = await n8n.postWebhook(PATH, { productId: 'sku-parallel', name: 'Cap', description: 'a blue cap', includeImages: false });
		expect(status).toBe(200);
		const perServer = n8n.sims.map((sim, i) =>
			sim.submitted.slice(before[i]).map((p) => {
				const messages = sim.history()[p.promptId]?.status.messages ?? [];
				const success = messages.find(([type]) => type === 'execution_success')?.[1] as { timestamp: number } | undefined;
				return { submittedAt: p.at, finishedAt: success?.timestamp ?? Number.NaN };
			}),
		);
		const jobs = perServer.flat();
		expect(jobs).toHaveLength(5);
		// ComfyUI runs one prompt at a time per server, so "in parallel" means every server has work at
		// once; the pool keeps further shots until a server can take them (at most 2 per server).
		expect(perServer.every((serverJobs) => serverJobs.length > 0)).toBe(true);
		const lastServerStart = Math.max(...perServer.map((serverJobs) => Math.min(...serverJobs.map((j) => j.submittedAt))));
		const firstFinished = Math.min(...jobs.map((j) => j.finishedAt));
		expect(lastServerStart).toBeLessThan(firstFinished);
	});

	it('answers metadata only with includeImages: false, and a second brief for the product adds to its gallery', async () => {
		const { status, body } = await n8n.postWebhook(PATH, { productId: 'sku-1234', name: 'Trail runner', description: 'now in blue', style: 'noir', includeImages: false });
		expect(status).toBe(200);
		const gallery = body as GalleryAnswer;
		expect(gallery.imageCount).toBe(5);
		expect(gallery.images.every((i) => i.base64 === undefined && i.sha256.length === 64)).toBe(true);
		const rows = await n8n.queryData<{ n: string }>('SELECT count(*)::text AS n FROM promptlab.generated_assets WHERE gallery_id = $1', ['sku-1234']);
		expect(rows[0].n).toBe('10');
	});

	it('a failing shot → 502 listing what failed next to the images that were made', async () => {
		n8n.sims.forEach((s) => (s.faults.executionErrorAtNode = '3'));
		try {
			const { status, body } = await n8n.postWebhook(PATH, { productId: 'sku-fail', name: 'Bag', description: 'a leather bag', includeImages: false });
			expect(status).toBe(502);
			const gallery = body as GalleryAnswer;
			expect(gallery).toMatchObject({ code: 'showcase_shots_failed', error: '5 of 5 shots failed', imageCount: 0 });
			expect(gallery.failed).toHaveLength(5);
			expect(gallery.failed[0]).toMatchObject({ shot: expect.any(String), code: 'comfyui_execution_failed', error: expect.stringMatching(/node 3|KSampler/) });
		} finally {
			n8n.sims.forEach((s) => (s.faults.executionErrorAtNode = undefined));
		}
	});

	it('an unknown template fails its shots with template_not_found, the code the Generation API answers too', async () => {
		const before = await snapshot(pool);
		const { status, body } = await n8n.postWebhook(MISCONFIGURED_PATH, { productId: 'sku-misconfigured', name: 'Bag', description: 'a bag', includeImages: false });
		expect(status).toBe(502);
		const gallery = body as GalleryAnswer;
		expect(gallery).toMatchObject({ code: 'showcase_shots_failed', imageCount: 4 });
		expect(gallery.failed).toEqual([expect.objectContaining({ shot: 'hero', code: 'template_not_found', field: 'template' })]);
		expect((await snapshot(pool)).executions).toBe(before.executions + 4);
	});

	describe('refuses an invalid brief with the status of its code, naming the field, and generates nothing', () => {
		it.each([
			{ title: 'productId missing', body: { name: 'x', description: 'y' }, code: 'field_required', field: 'productId' },
			{ title: 'productId with spaces', body: { productId: 'a b', name: 'x', description: 'y' }, code: 'invalid_input', field: 'productId' },
			{ title: 'name missing', body: { productId: 'p1', description: 'y' }, code: 'field_required', field: 'name' },
			{ title: 'description a number', body: { productId: 'p1', name: 'x', description: 5 }, code: 'invalid_input', field: 'description' },
			{ title: 'style an object', body: { productId: 'p1', name: 'x', description: 'y', style: { a: 1 } }, code: 'invalid_input', field: 'style' },
			{ title: 'an array body', body: [{ productId: 'p1' }], code: 'invalid_body', field: null },
			// Checked by Generate Images for every shot (the variable `product`): all shots refused the same way → that 400.
			{ title: 'a NUL byte in the name', body: { productId: 'p1', name: 'Bag\u0000', description: 'y' }, code: 'invalid_text', field: 'values.product' },
		])('$title → 400 $code', async ({ body, code, field }) => {
			const before = await snapshot(pool);
			const submitted = n8n.sims.map((s) => s.submitted.length);
			const answer = await n8n.postWebhook(PATH, body);
			expectErrorAnswer(answer, { status: 400, code, field });
			expect(await snapshot(pool)).toEqual(before);
			expect(n8n.sims.map((s) => s.submitted.length)).toEqual(submitted);
		});

		it('a brief above 64 KiB → 413; a form-encoded brief → 415', async () => {
			const large = await n8n.postWebhook(PATH, { productId: 'p1', name: 'x', description: 'y'.repeat(70_000) });
			expectErrorAnswer(large, { status: 413, code: 'payload_too_large', field: null });
			const form = await n8n.callWebhook(PATH, { rawBody: 'productId=p1&name=x&description=y', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
			expectErrorAnswer(form, { status: 415, code: 'unsupported_media_type', field: null });
		});
	});
});
