/**
 * Test data in the PromptLab database of an e2e n8n, written with the package's own repositories
 * (lib/db) — the same code the nodes run — so a test can start from templates and finished
 * executions without driving ComfyUI first. Counting helpers compare the database before/after.
 */
import { randomUUID } from 'node:crypto';

import type { Pool } from 'pg';

import { postgresConfigFromUrl } from '../../lib/db/config';
import { finishExecution, logExternalExecution, startExecution } from '../../lib/db/executions';
import { getPool } from '../../lib/db/pool';
import { createTemplate, type Template, type TemplateVersion } from '../../lib/templates/manage';
import { txt2imgWorkflow } from '../../dev/comfyui-sim';

/** A migrated pool on the data database (schema promptlab, like the credential). Close with closeAllPools(). */
export async function dataPool(dataDatabaseUrl: string): Promise<Pool> {
	return getPool(postgresConfigFromUrl(dataDatabaseUrl, { schema: 'promptlab', maxPoolSize: 4 }));
}

/**
 * An image template whose workflow is the simulator's txt2img graph, by default with a `subject`
 * variable and an optional `style` in the positive prompt; `production` points at version 1.
 */
export async function createImageTemplate(
	pool: Pool,
	name: string,
	options: { prompt?: string; category?: string; tags?: string[]; size?: number; variables?: Array<Record<string, unknown>> } = {},
): Promise<{ template: Template; version: TemplateVersion }> {
	const workflow = txt2imgWorkflow({ width: options.size ?? 64, height: options.size ?? 64, steps: 2 });
	workflow['6'].inputs.text = '{{positive_prompt}}';
	workflow['7'].inputs.text = '{{negative_prompt}}';
	return createTemplate(pool, {
		name,
		kind: 'image',
		category: options.category ?? 'e2e',
		tags: options.tags ?? ['e2e'],
		firstVersion: {
			positivePrompt: options.prompt ?? 'a photo of {{subject}}, {{style}}',
			negativePrompt: 'blurry',
			workflow,
			variables: options.variables ?? [
				{ name: 'subject', type: 'string', maxLength: 200 },
				{ name: 'style', type: 'string', maxLength: 200, default: 'studio light' },
			],
			commitMessage: 'e2e seed',
		},
	});
}

/** A text template (no workflow) for feedback-only tests. */
export async function createTextTemplate(pool: Pool, name: string): Promise<{ template: Template; version: TemplateVersion }> {
	return createTemplate(pool, {
		name,
		kind: 'text',
		category: 'e2e',
		firstVersion: { positivePrompt: 'Write about {{topic}}', variables: [{ name: 'topic', type: 'string' }], commitMessage: 'e2e seed' },
	});
}

/** A finished external execution of a version (what Record Feedback → Log produces). */
export async function loggedExecution(pool: Pool, versionId: string, userId = 'author'): Promise<string> {
	const { execution } = await logExternalExecution(pool, { versionId, userId, status: 'succeeded', durationMs: 1200, output: 'e2e output' });
	return execution.id;
}

/** A finished ComfyUI-style execution with a prompt id (for feedback by prompt id). */
export async function comfyExecution(pool: Pool, versionId: string): Promise<{ executionId: string; promptId: string }> {
	const executionId = randomUUID();
	const promptId = randomUUID();
	await startExecution(pool, { id: executionId, source: 'comfyui', versionId, promptId, server: 'http://e2e.invalid', status: 'running' });
	await finishExecution(pool, executionId, { status: 'succeeded', durationMs: 900 });
	return { executionId, promptId };
}

export interface FeedbackSnapshot {
	feedback: number;
	idempotencyKeys: number;
	ratingCount: number;
	ratingSum: number;
	ratingSumSq: number;
	executions: number;
	assets: number;
}

/** Counts that a refused request must leave unchanged. */
export async function snapshot(pool: Pool): Promise<FeedbackSnapshot> {
	const { rows } = await pool.query<Record<keyof FeedbackSnapshot, string>>(
		`SELECT (SELECT count(*) FROM feedback) AS feedback,
			(SELECT count(*) FROM feedback_idempotency_keys) AS "idempotencyKeys",
			(SELECT coalesce(sum(rating_count), 0) FROM template_stats) AS "ratingCount",
			(SELECT coalesce(sum(rating_sum), 0) FROM template_stats) AS "ratingSum",
			(SELECT coalesce(sum(rating_sum_sq), 0) FROM template_stats) AS "ratingSumSq",
			(SELECT count(*) FROM executions) AS executions,
			(SELECT count(*) FROM generated_assets) AS assets`,
	);
	const row = rows[0];
	return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as FeedbackSnapshot;
}
