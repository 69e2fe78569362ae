/**
 * The shipped feedback and generation workflows under concurrent load in queue mode (main + 2
 * workers on Redis, two ComfyUI simulators): 200 feedback calls and 50 generation calls at once.
 * Every call is answered, the rating aggregates are exact, and no execution is lost or doubled —
 * neither n8n's nor PromptLab's.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { Pool } from 'pg';

import { closeAllPools } from '../lib/db/pool';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { createImageTemplate, createTextTemplate, dataPool, loggedExecution } from './support/promptlab-data';
import { assertNodesDeclared, shippedWorkflow, type GenerationAnswer } from './support/workflows';

const FEEDBACK = shippedWorkflow('feedback.json');
const GENERATION = shippedWorkflow('generation.json');
const FEEDBACK_CALLS = 200;
const GENERATION_CALLS = 50;

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
	let a = seed;
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

interface FeedbackCall {
	body: { executionId: string; rating: number; userId: string; idempotencyKey: string };
	kind: 'first' | 'retry' | 're-rating';
}

describe('queue mode under load: 200 feedback + 50 generation calls at once', () => {
	let n8n: E2eN8n;
	let pool: Pool;
	const executionIds: string[] = [];
	const versionIds: string[] = [];

	beforeAll(async () => {
		assertNodesDeclared([FEEDBACK, GENERATION]);
		n8n = await startE2eN8n({ name: 'load', queueWorkers: 2, simulator: true, simulatorPool: 2, workflows: [FEEDBACK, GENERATION] });
		pool = await dataPool(n8n.dataDatabaseUrl);
		for (const name of ['load-text-a', 'load-text-b']) {
			const { version } = await createTextTemplate(pool, name);
			versionIds.push(version.id);
			for (let i = 0; i < 10; i++) executionIds.push(await loggedExecution(pool, version.id));
		}
		await createImageTemplate(pool, 'load-image');
	});

	afterAll(async () => {
		await closeAllPools();
		await n8n?.stop();
	});

	it('answers every call, keeps the rating aggregates exact and loses or doubles no execution', async () => {
		const next = random(20261122);
		// 160 first ratings of distinct (execution, user) pairs, 20 retries of some of them (same
		// key: must count once), 20 re-ratings by the same users with new keys (replace, not add).
		const firsts: FeedbackCall[] = Array.from({ length: 160 }, (_, n) => ({
			kind: 'first',
			body: { executionId: executionIds[n % executionIds.length], userId: `user-${Math.floor(n / executionIds.length)}`, rating: 1 + Math.floor(next() * 5), idempotencyKey: `first-${n}` },
		}));
		const retries: FeedbackCall[] = firsts.slice(0, 20).map((call) => ({ kind: 'retry', body: { ...call.body } }));
		const reRatings: FeedbackCall[] = firsts.slice(20, 40).map((call, n) => ({
			kind: 're-rating',
			body: { ...call.body, rating: 1 + ((call.body.rating + 1) % 5), idempotencyKey: `again-${n}` },
		}));
		const feedbackCalls = [...firsts, ...retries, ...reRatings];
		expect(feedbackCalls).toHaveLength(FEEDBACK_CALLS);
		// Interleave, so a retry or re-rating may overtake its original.
		const order = feedbackCalls.map((call) => ({ call, key: next() })).sort((a, b) => a.key - b.key).map((x) => x.call);

		const [feedbackAnswers, generationAnswers] = await Promise.all([
			Promise.all(order.map((call) => n8n.postWebhook('promptlab/feedback', call.body))),
			Promise.all(
				Array.from({ length: GENERATION_CALLS }, (_, n) =>
					n8n.postWebhook('promptlab/generate', { template: 'load-image', variables: { subject: `item ${n}` }, userId: `shopper-${n}` }),
				),
			),
		]);

		// Every call answered, successfully.
		expect(feedbackAnswers.map((a) => a.status)).toEqual(order.map(() => 200));
		expect(generationAnswers.map((a) => a.status)).toEqual(generationAnswers.map(() => 200));

		// Feedback: each retry counted once, each re-rating replaced (whichever of a pair came first).
		const flags = feedbackAnswers.map((a) => a.body as { duplicate: boolean; replaced: boolean });
		expect(flags.filter((f) => f.duplicate)).toHaveLength(20);
		expect(flags.filter((f) => f.replaced)).toHaveLength(20);
		const [counts] = await n8n.queryData<{ feedback: string; keys: string }>(
			'SELECT (SELECT count(*) FROM promptlab.feedback)::text AS feedback, (SELECT count(*) FROM promptlab.feedback_idempotency_keys)::text AS keys',
		);
		expect(counts).toEqual({ feedback: '160', keys: '180' });
		// The aggregates equal a recomputation from the feedback rows, per version.
		const aggregates = await n8n.queryData<Record<string, string>>(
			`SELECT s.version_id::text, s.rating_count::text, s.rating_sum::text, s.rating_sum_sq::text, s.rating_hist::text,
				r.n::text AS n, r.total::text AS total, r.squares::text AS squares, r.hist::text AS hist
			 FROM promptlab.template_stats s
			 JOIN (SELECT version_id, count(*) AS n, sum(rating) AS total, sum(rating * rating) AS squares,
					ARRAY[count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), count(*) FILTER (WHERE rating = 3),
					      count(*) FILTER (WHERE rating = 4), count(*) FILTER (WHERE rating = 5)] AS hist
				FROM promptlab.feedback GROUP BY version_id) r ON r.version_id = s.version_id
			 WHERE s.version_id = ANY($1::bigint[]) ORDER BY s.version_id`,
			[versionIds],
		);
		expect(aggregates).toHaveLength(2);
		for (const row of aggregates) {
			expect([row.rating_count, row.rating_sum, row.rating_sum_sq, row.rating_hist]).toEqual([row.n, row.total, row.squares, row.hist]);
		}
		expect(aggregates.reduce((sum, row) => sum + Number(row.rating_count), 0)).toBe(160);
		// And each stored rating is the one of its pair's last write: a first rating or its re-rating.
		const stored = await n8n.queryData<{ execution_id: string; user_id: string; rating: number }>('SELECT execution_id, user_id, rating FROM promptlab.feedback');
		const allowed = new Map<string, number[]>();
		for (const call of feedbackCalls) {
			const key = `${call.body.executionId}/${call.body.userId}`;
			allowed.set(key, [...(allowed.get(key) ?? []), call.body.rating]);
		}
		for (const row of stored) expect(allowed.get(`${row.execution_id}/${row.user_id}`)).toContain(row.rating);

		// Generation: 50 distinct PromptLab executions, each succeeded, each with its image stored.
		const generated = generationAnswers.map((a) => a.body as GenerationAnswer);
		const ids = generated.map((g) => g.executionId);
		expect(new Set(ids).size).toBe(GENERATION_CALLS);
		const runs = await n8n.queryData<{ id: string; status: string; user_id: string; sha256: string | null; assets: string }>(
			`SELECT e.id, e.status, e.user_id, min(a.sha256) AS sha256, count(a.id)::text AS assets
			 FROM promptlab.executions e LEFT JOIN promptlab.generated_assets a ON a.execution_id = e.id
			 WHERE e.source = 'comfyui' GROUP BY e.id`,
		);
		expect(runs).toHaveLength(GENERATION_CALLS);
		const byId = new Map(runs.map((r) => [r.id, r]));
		for (const [n, answer] of generated.entries()) {
			const image = answer.images[0];
			expect(byId.get(answer.executionId)).toEqual({ id: answer.executionId, status: 'succeeded', user_id: `shopper-${n}`, sha256: image.sha256, assets: '1' });
			expect(createHash('sha256').update(Buffer.from(image.base64, 'base64')).digest('hex')).toBe(image.sha256);
		}
		const [imageStats] = await n8n.queryData<{ executions: string; succeeded: string }>(
			`SELECT s.executions::text, s.succeeded::text FROM promptlab.template_stats s JOIN promptlab.templates t ON t.id = s.template_id
			 WHERE t.name = 'load-image'`,
		);
		expect(imageStats).toEqual({ executions: String(GENERATION_CALLS), succeeded: String(GENERATION_CALLS) });
		// Each prompt was submitted to ComfyUI exactly once, across the pool.
		const submitted = n8n.sims.flatMap((s) => s.submitted.map((p) => p.promptId));
		expect(submitted.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());

		// n8n: one execution per call, all succeeded, run by the workers (not main).
		const n8nRuns = await n8n.queryN8n<{ workflowId: string; status: string; n: string }>(
			`SELECT "workflowId", status, count(*)::text AS n FROM execution_entity GROUP BY "workflowId", status ORDER BY "workflowId"`,
		);
		expect(n8nRuns).toEqual([
			{ workflowId: 'PromptLabFeedbck', status: 'success', n: String(FEEDBACK_CALLS) },
			{ workflowId: 'PromptLabGenerat', status: 'success', n: String(GENERATION_CALLS) },
		]);
		const started = n8n.workers.map((w) => (readFileSync(w.logFile, 'utf8').match(/Worker started execution/g) ?? []).length);
		expect(started.every((count) => count > 0)).toBe(true);
		expect(started.reduce((a, b) => a + b, 0)).toBe(FEEDBACK_CALLS + GENERATION_CALLS);
	});
});
