import { randomUUID } from 'node:crypto';

import type { Pool } from 'pg';

import { ConflictError, NotFoundError, ValidationError } from '../lib/errors';
import {
	finishExecution,
	getExecution,
	listAssets,
	logExternalExecution,
	markExecutionRunning,
	recordAssets,
	startExecution,
	type AssetInput,
	type TerminalStatus,
} from '../lib/db/executions';
import { getPool } from '../lib/db/pool';
import { createTemplate, createVersion } from '../lib/templates/manage';
import { createTestDatabase, type TestDatabase } from './support/database';

describe('executions repository (real Postgres)', () => {
	let db: TestDatabase;
	let pool: Pool;
	let templateId: string;
	let v1: string;
	let v2: string;
	let otherTemplateVersion: string;
	let campaignId: string;
	let variantId: string;

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		const created = await createTemplate(pool, { name: 'exec-hero', kind: 'image', firstVersion: { positivePrompt: 'a {{x}}', variables: [{ name: 'x', type: 'string' }] } });
		templateId = created.template.id;
		v1 = created.version.id;
		v2 = (await createVersion(pool, { id: templateId }, { positivePrompt: 'b' })).version.id;
		otherTemplateVersion = (await createTemplate(pool, { name: 'other', kind: 'text', firstVersion: { positivePrompt: 'x' } })).version.id;
		const campaign = await pool.query<{ id: string }>(`INSERT INTO campaigns (name, seed, status) VALUES ('exec-test', 's1', 'running') RETURNING id`);
		campaignId = campaign.rows[0].id;
		const variant = await pool.query<{ id: string }>(
			`INSERT INTO campaign_variants (campaign_id, key, position, template_id, version_id, weight, is_control)
			 VALUES ($1, 'B', 1, $2, $3, 0.5, false) RETURNING id`,
			[campaignId, templateId, v2],
		);
		variantId = variant.rows[0].id;
	});
	afterAll(async () => {
		await db.drop();
	});

	async function templateStats(versionId: string) {
		const { rows } = await pool.query(
			`SELECT executions::int, succeeded::int, failed::int, cancelled::int, duration_ms_sum::int, duration_count::int
			 FROM template_stats WHERE version_id = $1`,
			[versionId],
		);
		return rows[0] ?? null;
	}

	/** The aggregates as they must be: recomputed from the executions table. */
	async function recomputedStats(versionId: string) {
		const { rows } = await pool.query(
			`SELECT count(*)::int AS executions,
				count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
				count(*) FILTER (WHERE status IN ('failed', 'lost'))::int AS failed,
				count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
				coalesce(sum(duration_ms) FILTER (WHERE status = 'succeeded'), 0)::int AS duration_ms_sum,
				count(duration_ms) FILTER (WHERE status = 'succeeded')::int AS duration_count
			 FROM executions WHERE version_id = $1 AND status IN ('succeeded', 'failed', 'lost', 'cancelled')`,
			[versionId],
		);
		return rows[0];
	}

	const asset = (filename: string): AssetInput => ({
		nodeId: '9',
		filename,
		subfolder: '',
		type: 'output',
		mimeType: 'image/png',
		bytes: 1234,
		sha256: 'a'.repeat(64),
		galleryId: 'gallery-1',
	});

	test('lifecycle: queued → running → succeeded, with assets and the stats of the version', async () => {
		const id = randomUUID();
		const promptId = randomUUID();
		const started = await startExecution(pool, {
			id,
			source: 'comfyui',
			versionId: v1,
			userId: 'ana',
			clientId: 'client-1',
			renderedPrompt: { positive: 'a cat', negative: '' },
			variables: { x: 'cat' },
			workflowChecksum: 'c'.repeat(64),
			seed: '18446744073709551', // beyond 2^53: kept exact as a string
			n8nExecutionId: '77',
		});
		expect(started).toMatchObject({ id, status: 'queued', templateId, versionId: v1, version: 1, userId: 'ana', seed: '18446744073709551' });
		expect(started.startedAt).toBeNull();

		const running = await markExecutionRunning(pool, id, { server: 'http://gpu-1:8188', promptId });
		expect(running).toMatchObject({ status: 'running', server: 'http://gpu-1:8188', promptId });
		expect(running.startedAt).not.toBeNull();

		const finished = await finishExecution(pool, id, {
			status: 'succeeded',
			durationMs: 4200,
			output: { images: 2 },
			assets: [asset('a_00001_.png'), asset('a_00002_.png')],
		});
		expect(finished.alreadyFinished).toBe(false);
		expect(finished.execution).toMatchObject({ status: 'succeeded', durationMs: 4200, output: { images: 2 } });
		expect(finished.assets.map((a) => a.filename)).toEqual(['a_00001_.png', 'a_00002_.png']);
		expect(finished.assets[0]).toMatchObject({ executionId: id, nodeId: '9', bytes: 1234, galleryId: 'gallery-1', mimeType: 'image/png' });

		const byPrompt = await getExecution(pool, { promptId });
		expect(byPrompt.id).toBe(id);
		expect(await templateStats(v1)).toEqual({ executions: 1, succeeded: 1, failed: 0, cancelled: 0, duration_ms_sum: 4200, duration_count: 1 });
		expect((await listAssets(pool, { galleryId: 'gallery-1' })).length).toBe(2);
	});

	test('a retried start returns the stored row instead of creating a second one', async () => {
		const id = randomUUID();
		const first = await startExecution(pool, { id, source: 'comfyui', versionId: v1, n8nExecutionId: 'first' });
		const again = await Promise.all(
			[1, 2, 3].map(() => startExecution(pool, { id, source: 'comfyui', versionId: v1, n8nExecutionId: 'retry' })),
		);
		for (const e of again) expect(e).toEqual(first);
		const { rows } = await pool.query('SELECT count(*)::int AS n FROM executions WHERE id = $1', [id]);
		expect(rows[0].n).toBe(1);
	});

	test('finish called repeatedly and concurrently counts the run once; later calls change nothing', async () => {
		const before = await templateStats(v1);
		const id = randomUUID();
		await startExecution(pool, { id, source: 'comfyui', versionId: v1, status: 'running' });
		const results = await Promise.all(
			Array.from({ length: 6 }, (_, k) =>
				finishExecution(pool, id, { status: k % 2 ? 'failed' : 'succeeded', durationMs: 1000 + k, error: k % 2 ? 'boom' : undefined }),
			),
		);
		expect(results.filter((r) => !r.alreadyFinished)).toHaveLength(1);
		const winner = results.find((r) => !r.alreadyFinished)!.execution;
		for (const r of results) expect(r.execution).toEqual(winner);
		const after = await templateStats(v1);
		expect(after.executions).toBe(before.executions + 1);
		expect(after.succeeded + after.failed).toBe(before.succeeded + before.failed + 1);
		// and once more, later, with another status: still the stored outcome
		const late = await finishExecution(pool, id, { status: 'cancelled' });
		expect(late.alreadyFinished).toBe(true);
		expect(late.execution.status).toBe(winner.status);
		expect(await templateStats(v1)).toEqual(after);
	});

	test('assets are idempotent: re-recording keeps one row per file and adds only new files', async () => {
		const id = randomUUID();
		await startExecution(pool, { id, source: 'comfyui', versionId: v1 });
		await finishExecution(pool, id, { status: 'succeeded', durationMs: 10, assets: [asset('x_1.png'), asset('x_2.png')] });
		const again = await finishExecution(pool, id, { status: 'succeeded', assets: [asset('x_1.png'), asset('x_2.png')] });
		expect(again.alreadyFinished).toBe(true);
		expect(again.assets).toHaveLength(2);
		const more = await recordAssets(pool, id, [asset('x_2.png'), { nodeId: '12', filename: 'x_1.png', type: 'temp' }]);
		expect(more.map((a) => `${a.nodeId}/${a.type}/${a.filename}`)).toEqual(['9/output/x_1.png', '9/output/x_2.png', '12/temp/x_1.png']);
		await expect(recordAssets(pool, randomUUID(), [asset('y.png')])).rejects.toMatchObject({
			code: 'execution_not_found',
			field: 'executionId',
		});
		const noName = await recordAssets(pool, id, [{ nodeId: '9', filename: '' }]).catch((e: unknown) => e);
		expect(noName).toBeInstanceOf(ValidationError);
		expect(noName).toMatchObject({ code: 'invalid_input', field: 'assets.0' });
	});

	test('aggregates stay exact over mixed outcomes, and campaign variant stats move with the variant', async () => {
		const statuses: TerminalStatus[] = ['succeeded', 'failed', 'lost', 'cancelled', 'succeeded', 'succeeded', 'failed'];
		await Promise.all(
			statuses.map(async (status, k) => {
				const id = randomUUID();
				await startExecution(pool, { id, source: 'comfyui', variantId, userId: `unit-${k}`, status: 'running' });
				await finishExecution(pool, id, { status, durationMs: 100 * (k + 1), error: status === 'failed' ? { message: 'OOM' } : undefined });
				await finishExecution(pool, id, { status }); // retry
			}),
		);
		expect(await templateStats(v2)).toEqual(await recomputedStats(v2));
		expect(await templateStats(v2)).toMatchObject({ executions: 7, succeeded: 3, failed: 3, cancelled: 1, duration_ms_sum: 100 + 500 + 600, duration_count: 3 });
		expect(await templateStats(v1)).toEqual(await recomputedStats(v1));
		const { rows } = await pool.query(
			`SELECT executions::int, succeeded::int, failed::int, duration_ms_sum::int, duration_count::int
			 FROM campaign_variant_stats WHERE variant_id = $1`,
			[variantId],
		);
		expect(rows[0]).toEqual({ executions: 7, succeeded: 3, failed: 3, duration_ms_sum: 1200, duration_count: 3 });
	});

	test('a variant alone fills campaign, template and version; inconsistent ids are refused naming the field', async () => {
		const id = randomUUID();
		const e = await startExecution(pool, { id, source: 'comfyui', variantId });
		expect(e).toMatchObject({ campaignId, variantId, templateId, versionId: v2, version: 2 });
		await expect(startExecution(pool, { id: randomUUID(), source: 'comfyui', templateId, versionId: otherTemplateVersion })).rejects.toMatchObject({
			code: 'invalid_input',
			field: 'versionId',
		});
		await expect(startExecution(pool, { id: randomUUID(), source: 'comfyui', variantId, versionId: v1 })).rejects.toMatchObject({
			code: 'invalid_input',
			field: 'variantId',
		});
		await expect(startExecution(pool, { id: randomUUID(), source: 'comfyui', versionId: '999999' })).rejects.toMatchObject({
			code: 'version_not_found',
			field: 'versionId',
		});
		await expect(startExecution(pool, { id: randomUUID(), source: 'comfyui', campaignId: randomUUID() })).rejects.toMatchObject({
			code: 'campaign_not_found',
			field: 'campaignId',
		});
		await expect(startExecution(pool, { id: 'not-a-uuid', source: 'comfyui' })).rejects.toMatchObject({ code: 'invalid_input', field: 'executionId' });
		await expect(startExecution(pool, { id: '', source: 'comfyui' })).rejects.toMatchObject({ code: 'field_required', field: 'executionId' });
		await expect(startExecution(pool, { id: randomUUID(), source: 'comfyui', seed: 2 ** 64 })).rejects.toMatchObject({ code: 'invalid_input', field: 'seed' });
	});

	test('a ComfyUI prompt id belongs to one execution only', async () => {
		const promptId = randomUUID();
		await startExecution(pool, { id: randomUUID(), source: 'comfyui', promptId });
		const error = await startExecution(pool, { id: randomUUID(), source: 'comfyui', promptId }).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(ConflictError);
		expect(error).toMatchObject({ code: 'prompt_id_taken', field: 'promptId' });
	});

	test('unknown executions are execution_not_found naming executionId or promptId; a malformed id is invalid_input', async () => {
		const unknown = randomUUID();
		const byId = await getExecution(pool, { id: unknown }).catch((e: unknown) => e);
		expect(byId).toBeInstanceOf(NotFoundError);
		expect(byId).toMatchObject({ code: 'execution_not_found', httpStatus: 404, field: 'executionId', message: expect.stringContaining(unknown) });
		await expect(getExecution(pool, { promptId: 'nope' })).rejects.toMatchObject({ code: 'execution_not_found', field: 'promptId' });
		await expect(getExecution(pool, { promptId: ' ' })).rejects.toMatchObject({ code: 'field_required', field: 'promptId' });
		await expect(getExecution(pool, { id: 'nope' })).rejects.toMatchObject({ code: 'invalid_input', httpStatus: 400, field: 'executionId' });
		await expect(finishExecution(pool, unknown, { status: 'succeeded' })).rejects.toMatchObject({ code: 'execution_not_found', field: 'executionId' });
		await expect(markExecutionRunning(pool, unknown)).rejects.toMatchObject({ code: 'execution_not_found', field: 'executionId' });
	});

	test('running is entered only from queued; duration defaults to the time since start', async () => {
		const id = randomUUID();
		await startExecution(pool, { id, source: 'comfyui', versionId: v1 });
		await markExecutionRunning(pool, id, { startedAt: new Date(Date.now() - 2500) });
		const done = await finishExecution(pool, id, { status: 'succeeded' });
		expect(done.execution.durationMs).toBeGreaterThanOrEqual(2500);
		expect(done.execution.durationMs).toBeLessThan(60_000);
		const again = await markExecutionRunning(pool, id, { server: 'elsewhere' });
		expect(again.status).toBe('succeeded');
		expect(again.server).toBeNull();
		await expect(finishExecution(pool, id, { status: 'running' as TerminalStatus })).rejects.toMatchObject({ code: 'invalid_input', field: 'status' });
	});

	test('logExternalExecution stores a finished text run in one call, idempotent on its id', async () => {
		const before = await templateStats(v1);
		const first = await logExternalExecution(pool, { versionId: v1, userId: 'bo', output: 'Once upon a time', status: 'succeeded', durationMs: 800 });
		expect(first.execution).toMatchObject({ source: 'external', status: 'succeeded', output: { text: 'Once upon a time' }, durationMs: 800, templateId });
		const again = await logExternalExecution(pool, { id: first.execution.id, versionId: v1, output: 'other', status: 'failed' });
		expect(again.alreadyFinished).toBe(true);
		expect(again.execution).toEqual(first.execution);
		const after = await templateStats(v1);
		expect(after).toMatchObject({ executions: before.executions + 1, succeeded: before.succeeded + 1, duration_ms_sum: before.duration_ms_sum + 800 });
		const failed = await logExternalExecution(pool, { templateId, versionId: v1, status: 'failed', error: 'rate limited' });
		expect(failed.execution.error).toEqual({ message: 'rate limited' });
	});
});
