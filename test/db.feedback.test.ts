import { randomUUID } from 'node:crypto';

import type { Pool } from 'pg';

import { finishExecution, startExecution, type StartExecutionInput } from '../lib/db/executions';
import { getTemplateStats } from '../lib/db/feedback';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors';
import { parseFeedbackInput, recordFeedback } from '../lib/feedback';
import { getPool } from '../lib/db/pool';
import { createTemplate, createVersion } from '../lib/templates/manage';
import { createTestDatabase, type TestDatabase } from './support/database';

describe('feedback repository (real Postgres)', () => {
	let db: TestDatabase;
	let pool: Pool;
	let templateId: string;
	let v1: string;
	let v2: string;
	let campaignId: string;
	let control: string;
	let variantB: string;

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		const created = await createTemplate(pool, { name: 'rated', kind: 'image', firstVersion: { positivePrompt: 'one' } });
		templateId = created.template.id;
		v1 = created.version.id;
		v2 = (await createVersion(pool, { id: templateId }, { positivePrompt: 'two' })).version.id;
		campaignId = (await pool.query<{ id: string }>(`INSERT INTO campaigns (name, seed, status) VALUES ('fb', 'seed', 'running') RETURNING id`)).rows[0].id;
		const variants = await pool.query<{ id: string; key: string }>(
			`INSERT INTO campaign_variants (campaign_id, key, position, template_id, version_id, weight, is_control)
			 VALUES ($1, 'control', 0, $2, $3, 0.5, true), ($1, 'B', 1, $2, $4, 0.5, false) RETURNING id, key`,
			[campaignId, templateId, v1, v2],
		);
		control = variants.rows.find((r) => r.key === 'control')!.id;
		variantB = variants.rows.find((r) => r.key === 'B')!.id;
	});
	afterAll(async () => {
		await db.drop();
	});

	async function execution(input: Partial<StartExecutionInput> = {}): Promise<string> {
		const id = randomUUID();
		await startExecution(pool, { id, source: 'comfyui', ...(input.variantId ? {} : { versionId: v1 }), ...input });
		await finishExecution(pool, id, { status: 'succeeded', durationMs: 1000 });
		return id;
	}

	/** Rating aggregates of a version as stored, and as recomputed from the feedback rows. */
	async function versionAggregates(versionId: string) {
		const stored = await pool.query(
			`SELECT rating_count::int AS count, rating_sum::int AS sum, rating_sum_sq::int AS sum_sq, rating_hist::int[] AS hist
			 FROM template_stats WHERE version_id = $1`,
			[versionId],
		);
		const recomputed = await pool.query(
			`SELECT count(*)::int AS count, coalesce(sum(rating), 0)::int AS sum, coalesce(sum(rating * rating), 0)::int AS sum_sq,
				ARRAY(SELECT count(f2.*)::int FROM generate_series(1, 5) k LEFT JOIN feedback f2 ON f2.version_id = $1 AND f2.rating = k
				      GROUP BY k ORDER BY k) AS hist
			 FROM feedback WHERE version_id = $1`,
			[versionId],
		);
		return { stored: stored.rows[0] ?? null, recomputed: recomputed.rows[0] };
	}

	async function campaignAggregates() {
		const variants = await pool.query(
			`SELECT variant_id, rating_count::int, rating_sum::int, rating_sum_sq::int, good_count::int
			 FROM campaign_variant_stats WHERE campaign_id = $1 AND rating_count > 0 ORDER BY variant_id`,
			[campaignId],
		);
		const variantsRecomputed = await pool.query(
			`SELECT variant_id, count(*)::int AS rating_count, sum(rating)::int AS rating_sum, sum(rating * rating)::int AS rating_sum_sq,
				count(*) FILTER (WHERE rating >= 4)::int AS good_count
			 FROM feedback WHERE campaign_id = $1 GROUP BY variant_id ORDER BY variant_id`,
			[campaignId],
		);
		const units = await pool.query(
			`SELECT unit_id, variant_id, rating_count, rating_sum, good_count FROM campaign_unit_stats WHERE campaign_id = $1 ORDER BY unit_id`,
			[campaignId],
		);
		const unitsRecomputed = await pool.query(
			`SELECT coalesce(e.user_id, f.user_id) AS unit_id, f.variant_id, count(*)::int AS rating_count, sum(f.rating)::int AS rating_sum,
				count(*) FILTER (WHERE f.rating >= 4)::int AS good_count
			 FROM feedback f JOIN executions e ON e.id = f.execution_id
			 WHERE f.campaign_id = $1 GROUP BY 1, 2 ORDER BY 1`,
			[campaignId],
		);
		return { variants: variants.rows, variantsRecomputed: variantsRecomputed.rows, units: units.rows, unitsRecomputed: unitsRecomputed.rows };
	}

	async function snapshot() {
		const { rows } = await pool.query(
			`SELECT (SELECT count(*) FROM feedback)::int AS feedback,
			        (SELECT count(*) FROM feedback_idempotency_keys)::int AS keys,
			        (SELECT json_agg(s ORDER BY version_id) FROM template_stats s) AS stats,
			        (SELECT json_agg(s ORDER BY variant_id) FROM campaign_variant_stats s) AS variant_stats,
			        (SELECT json_agg(s ORDER BY unit_id) FROM campaign_unit_stats s) AS unit_stats`,
		);
		return rows[0];
	}

	test('a first rating is stored and returned with the version stats (mean, stddev, histogram, good share)', async () => {
		const e1 = await execution({ versionId: v2 });
		const e2 = await execution({ versionId: v2 });
		const first = await recordFeedback(pool, { executionId: e1, rating: 5, userId: 'u1', comment: 'lovely', source: 'webhook' });
		expect(first).toMatchObject({ duplicate: false, replaced: false, previousRating: null });
		expect(first.feedback).toMatchObject({ executionId: e1, templateId, versionId: v2, userId: 'u1', rating: 5, comment: 'lovely', source: 'webhook' });
		expect(first.feedback.idempotencyKey).toBe(`${e1}:u1`);
		const second = await recordFeedback(pool, { executionId: e2, rating: '2', userId: 'u1' }); // digit string from a webhook
		expect(second.stats).toMatchObject({
			templateId,
			versionId: v2,
			executions: 2,
			succeeded: 2,
			ratingCount: 2,
			ratingSum: 7,
			meanRating: 3.5,
			histogram: { '1': 0, '2': 1, '3': 0, '4': 0, '5': 1 },
			goodCount: 1,
			goodShare: 0.5,
		});
		expect(second.stats!.stddevRating).toBeCloseTo(Math.SQRT2 * 1.5, 10);
		expect(await getTemplateStats(pool, { versionId: v2 })).toEqual(second.stats);
	});

	test('the same idempotency key 5× (in a row and at once) stores one row and counts it once', async () => {
		const e = await execution();
		const before = await versionAggregates(v1);
		const sequential = [];
		for (let k = 0; k < 5; k++) {
			sequential.push(await recordFeedback(pool, { executionId: e, rating: 4, userId: 'retry-user', idempotencyKey: 'webhook-delivery-1' }));
		}
		expect(sequential.map((r) => r.duplicate)).toEqual([false, true, true, true, true]);
		for (const r of sequential) expect(r.feedback).toEqual(sequential[0].feedback);
		const concurrent = await Promise.all(
			Array.from({ length: 5 }, () => recordFeedback(pool, { executionId: e, rating: 4, userId: 'other-user', idempotencyKey: 'webhook-delivery-2' })),
		);
		expect(concurrent.filter((r) => !r.duplicate)).toHaveLength(1);
		const { rows } = await pool.query('SELECT count(*)::int AS n FROM feedback WHERE execution_id = $1', [e]);
		expect(rows[0].n).toBe(2);
		const after = await versionAggregates(v1);
		expect(after.stored.count).toBe(before.stored.count + 2);
		expect(after.stored.sum).toBe(before.stored.sum + 8);
		expect(after.stored).toEqual(after.recomputed);
	});

	test('a re-rating replaces the earlier one and moves count, sums and histogram by the delta', async () => {
		const e = await execution();
		await recordFeedback(pool, { executionId: e, rating: 2, userId: 'changer' });
		const before = await versionAggregates(v1);
		const same = await recordFeedback(pool, { executionId: e, rating: 2, userId: 'changer' });
		expect(same).toMatchObject({ duplicate: true, replaced: false });
		const changed = await recordFeedback(pool, { executionId: e, rating: 5, userId: 'changer', comment: 'second look' });
		expect(changed).toMatchObject({ duplicate: false, replaced: true, previousRating: 2 });
		expect(changed.feedback).toMatchObject({ rating: 5, comment: 'second look' });
		const after = await versionAggregates(v1);
		expect(after.stored.count).toBe(before.stored.count);
		expect(after.stored.sum).toBe(before.stored.sum + 3);
		expect(after.stored.sum_sq).toBe(before.stored.sum_sq + 25 - 4);
		const expectedHist = [...before.stored.hist];
		expectedHist[1] -= 1;
		expectedHist[4] += 1;
		expect(after.stored.hist).toEqual(expectedHist);
		expect(after.stored).toEqual(after.recomputed);
	});

	test('a new key replaces; a late retry of the superseded key changes nothing (the key ledger)', async () => {
		const e = await execution();
		await recordFeedback(pool, { executionId: e, rating: 1, userId: 'late', idempotencyKey: 'k-old' });
		const replaced = await recordFeedback(pool, { executionId: e, rating: 4, userId: 'late', idempotencyKey: 'k-new' });
		expect(replaced).toMatchObject({ replaced: true, previousRating: 1 });
		const lateRetry = await recordFeedback(pool, { executionId: e, rating: 1, userId: 'late', idempotencyKey: 'k-old' });
		expect(lateRetry).toMatchObject({ duplicate: true, replaced: false });
		expect(lateRetry.feedback).toMatchObject({ rating: 4, idempotencyKey: 'k-new' });
		const { stored, recomputed } = await versionAggregates(v1);
		expect(stored).toEqual(recomputed);
	});

	test('a key already used on another execution is refused naming the idempotency key; nothing is written', async () => {
		const e1 = await execution();
		const e2 = await execution();
		await recordFeedback(pool, { executionId: e1, rating: 3, userId: 'k', idempotencyKey: 'shared-key' });
		const before = await snapshot();
		const error = await recordFeedback(pool, { executionId: e2, rating: 3, userId: 'k', idempotencyKey: 'shared-key' }).catch((x: unknown) => x);
		expect(error).toBeInstanceOf(ConflictError);
		expect(error).toMatchObject({ code: 'idempotency_key_reused', field: 'idempotencyKey', httpStatus: 409 });
		// an explicit key shaped like another row's derived key meets the unique index instead
		await recordFeedback(pool, { executionId: e2, rating: 3, userId: 'derived' });
		await expect(recordFeedback(pool, { executionId: e1, rating: 3, userId: 'x', idempotencyKey: `${e2}:derived` })).rejects.toMatchObject({
			code: 'idempotency_key_reused',
			field: 'idempotencyKey',
		});
		const after = await snapshot();
		expect(after.feedback).toBe(before.feedback + 1);
	});

	test.each([
		[0, 'rating_out_of_range', 'Rating must be a whole number from 1 to 5 (got the number 0)'],
		[6, 'rating_out_of_range', 'Rating must be a whole number from 1 to 5 (got the number 6)'],
		['9', 'rating_out_of_range', 'Rating must be a whole number from 1 to 5 (got the string "9")'],
		[3.5, 'rating_invalid', 'Rating must be a whole number from 1 to 5 (got the number 3.5)'],
		['4.0', 'rating_invalid', 'Rating must be a whole number from 1 to 5 (got the string "4.0")'],
		['+4', 'rating_invalid', 'Rating must be a whole number from 1 to 5 (got the string "+4")'],
		[' 4 ', 'rating_invalid', 'Rating must be a whole number from 1 to 5 (got the string " 4 ")'],
		['five', 'rating_invalid', 'Rating must be a whole number from 1 to 5 (got the string "five")'],
		[true, 'rating_invalid', 'Rating must be a whole number from 1 to 5 (got the boolean true)'],
		[null, 'field_required', 'Rating is required (a whole number from 1 to 5)'],
	])('rating %p is refused with code %s naming the rating, and nothing is written', async (rating, code, message) => {
		const e = await execution({ variantId: control, userId: 'unit-invalid' });
		const before = await snapshot();
		const error = await recordFeedback(pool, { executionId: e, rating: rating as number, userId: 'someone' }).catch((x: unknown) => x);
		expect(error).toBeInstanceOf(ValidationError);
		expect(error).toMatchObject({ code, field: 'rating', message, httpStatus: 400 });
		expect(await snapshot()).toEqual(before);
	});

	test('ratings 1–5 are accepted as JSON numbers and as one-digit strings', async () => {
		const e = await execution();
		for (const rating of [1, '2', 3, '4', 5]) {
			const result = await recordFeedback(pool, { executionId: e, rating, userId: `digits-${String(rating)}` });
			expect(result.feedback.rating).toBe(Number(rating));
		}
	});

	test.each([
		['comment', { comment: 'nice\u0000picture' }],
		['userId', { userId: 'ana\u0000' }],
		['userId', { userId: 'ana\ud800' }],
		['comment', { comment: 'caf\uFFFD' }],
		['source', { source: 'web\u0000hook' }],
		['idempotencyKey', { idempotencyKey: 'k\u0000' }],
		['promptId', { executionId: undefined, promptId: 'p\u0000' }],
	])('a NUL, lone surrogate or U+FFFD in %s is invalid_text naming the field; nothing is stored', async (field, bad) => {
		const e = await execution();
		const before = await snapshot();
		const error = await recordFeedback(pool, { executionId: e, rating: 4, userId: 'ana', ...bad }).catch((x: unknown) => x);
		expect(error).toBeInstanceOf(ValidationError);
		expect(error).toMatchObject({ code: 'invalid_text', field, httpStatus: 400 });
		expect(await snapshot()).toEqual(before);
	});

	test('an idempotency key sent again with another rating is idempotency_key_reused; the same request again is a duplicate', async () => {
		const e = await execution();
		const first = await recordFeedback(pool, { executionId: e, rating: 4, userId: 'keyed', idempotencyKey: 'delivery-x' });
		const before = await snapshot();
		const error = await recordFeedback(pool, { executionId: e, rating: 2, userId: 'keyed', idempotencyKey: 'delivery-x' }).catch((x: unknown) => x);
		expect(error).toBeInstanceOf(ConflictError);
		expect(error).toMatchObject({ code: 'idempotency_key_reused', field: 'idempotencyKey', httpStatus: 409, details: { idempotencyKey: 'delivery-x' } });
		expect(await snapshot()).toEqual(before);
		const again = await recordFeedback(pool, { executionId: e, rating: 4, userId: 'keyed', idempotencyKey: 'delivery-x' });
		expect(again).toMatchObject({ duplicate: true, feedback: first.feedback });
	});

	test('comments are limited to 4000 characters, counted like Postgres counts them', async () => {
		const e = await execution();
		const emoji = '🎨'.repeat(4000); // 8000 UTF-16 units, 4000 characters: allowed
		const ok = await recordFeedback(pool, { executionId: e, rating: 4, userId: 'writer', comment: emoji });
		expect(ok.feedback.comment).toBe(emoji);
		const before = await snapshot();
		await expect(recordFeedback(pool, { executionId: e, rating: 1, userId: 'writer2', comment: 'x'.repeat(4001) })).rejects.toMatchObject({
			code: 'text_too_long',
			field: 'comment',
			message: 'Comment is longer than 4000 characters',
		});
		await expect(recordFeedback(pool, { executionId: e, rating: 1, userId: '  ' })).rejects.toMatchObject({ code: 'field_required', field: 'userId' });
		expect(await snapshot()).toEqual(before);
	});

	test('executions are found by our id or by ComfyUI prompt id; unknown ones are NotFoundErrors naming the field', async () => {
		const promptId = randomUUID();
		const id = await execution({ promptId });
		const byPrompt = await recordFeedback(pool, { promptId, rating: 5, userId: 'p' });
		expect(byPrompt.feedback.executionId).toBe(id);
		const unknownId = randomUUID();
		const error = await recordFeedback(pool, { executionId: unknownId, rating: 5, userId: 'p' }).catch((x: unknown) => x);
		expect(error).toBeInstanceOf(NotFoundError);
		expect(error).toMatchObject({ code: 'execution_not_found', field: 'executionId', httpStatus: 404, message: `Execution ${unknownId} not found` });
		await expect(recordFeedback(pool, { promptId: 'no-such-prompt', rating: 5, userId: 'p' })).rejects.toMatchObject({
			code: 'execution_not_found',
			field: 'promptId',
		});
		await expect(recordFeedback(pool, { executionId: 'abc', rating: 5, userId: 'p' })).rejects.toMatchObject({ code: 'invalid_input', field: 'executionId' });
		await expect(recordFeedback(pool, { rating: 5, userId: 'p' })).rejects.toMatchObject({ code: 'field_required', field: 'executionId' });
		await expect(recordFeedback(pool, { promptId: ' ', rating: 5, userId: 'p' })).rejects.toMatchObject({ code: 'field_required', field: 'promptId' });
	});

	test('8 concurrent writers on one execution (different users, and one user) end with exact aggregates', async () => {
		for (let round = 0; round < 4; round++) {
			const e = await execution({ variantId: variantB, userId: `unit-round-${round}` });
			const writes = [
				// 8 different users, one rating each, some with explicit keys, each sent twice (a retry)
				...Array.from({ length: 8 }, (_, k) => ({ userId: `user-${k}`, rating: (k % 5) + 1, idempotencyKey: k % 2 ? `r${round}-k${k}` : undefined })),
				...Array.from({ length: 8 }, (_, k) => ({ userId: `user-${k}`, rating: (k % 5) + 1, idempotencyKey: k % 2 ? `r${round}-k${k}` : undefined })),
				// one user changing their mind 8 times at once, with and without keys
				...Array.from({ length: 8 }, (_, k) => ({ userId: 'indecisive', rating: ((k * 3) % 5) + 1, idempotencyKey: k % 3 ? `r${round}-ind-${k}` : undefined })),
			];
			// half of them with asynchronous commit: same statement, same exactness
			const results = await Promise.all(writes.map((w, k) => recordFeedback(pool, { executionId: e, ...w }, { asyncCommit: k % 2 === 0 })));
			const { rows } = await pool.query<{ user_id: string; rating: number }>(
				'SELECT user_id, rating FROM feedback WHERE execution_id = $1 ORDER BY user_id',
				[e],
			);
			expect(rows).toHaveLength(9);
			const indecisive = rows.find((r) => r.user_id === 'indecisive')!;
			expect(writes.filter((w) => w.userId === 'indecisive').map((w) => w.rating)).toContain(indecisive.rating);
			expect(results.filter((r) => !r.duplicate && !r.replaced)).toHaveLength(9);
		}
		for (const versionId of [v1, v2]) {
			const { stored, recomputed } = await versionAggregates(versionId);
			expect(stored).toEqual(recomputed);
		}
		const c = await campaignAggregates();
		expect(c.variants).toEqual(c.variantsRecomputed);
		expect(c.units).toEqual(c.unitsRecomputed);
	});

	test('campaign executions move variant stats and the unit stats of the assigned unit (or of the rater)', async () => {
		await pool.query(`INSERT INTO campaign_assignments (campaign_id, unit_id, variant_id) VALUES ($1, 'alice', $2), ($1, 'bob', $3)`, [
			campaignId,
			control,
			variantB,
		]);
		const before = await campaignAggregates();
		const unitOf = (rows: Array<{ unit_id: string }>, unit: string) => rows.find((r) => r.unit_id === unit);
		const eAlice = await execution({ variantId: control, userId: 'alice' });
		const eBob = await execution({ variantId: variantB, userId: 'bob' });
		const eAnon = await execution({ variantId: variantB }); // no user on the run: the rater is the unit
		await recordFeedback(pool, { executionId: eAlice, rating: 5, userId: 'alice' });
		await recordFeedback(pool, { executionId: eAlice, rating: 2, userId: 'reviewer' }); // rated by someone else: still alice's unit
		await recordFeedback(pool, { executionId: eBob, rating: 4, userId: 'bob' });
		await recordFeedback(pool, { executionId: eBob, rating: 3, userId: 'bob' }); // replaces: good 1 → 0
		expect(await recordFeedback(pool, { executionId: eAnon, rating: 4, userId: 'carol' })).toMatchObject({ campaignFrozen: false });
		const after = await campaignAggregates();
		expect(after.variants).toEqual(after.variantsRecomputed);
		expect(after.units).toEqual(after.unitsRecomputed);
		expect(unitOf(after.units, 'alice')).toEqual({ unit_id: 'alice', variant_id: control, rating_count: 2, rating_sum: 7, good_count: 1 });
		expect(unitOf(after.units, 'bob')).toEqual({ unit_id: 'bob', variant_id: variantB, rating_count: 1, rating_sum: 3, good_count: 0 });
		expect(unitOf(after.units, 'carol')).toEqual({ unit_id: 'carol', variant_id: variantB, rating_count: 1, rating_sum: 4, good_count: 1 });
		const variant = (rows: Array<{ variant_id: string; rating_count: number }>, id: string) => rows.find((r) => r.variant_id === id)!;
		expect(variant(after.variants, control).rating_count - (variant(before.variants, control)?.rating_count ?? 0)).toBe(2);
	});

	test('a completed campaign is frozen: the rating is stored and moves the version, not the campaign aggregates', async () => {
		const frozen = (await pool.query<{ id: string }>(`INSERT INTO campaigns (name, seed, status) VALUES ('frozen', 'seed', 'running') RETURNING id`)).rows[0].id;
		const frozenB = (
			await pool.query<{ id: string }>(
				`INSERT INTO campaign_variants (campaign_id, key, position, template_id, version_id, weight, is_control)
				 VALUES ($1, 'control', 0, $2, $3, 0.5, true), ($1, 'B', 1, $2, $4, 0.5, false) RETURNING id`,
				[frozen, templateId, v1, v2],
			)
		).rows[1].id;
		const e = await execution({ variantId: frozenB, userId: 'dora' });
		expect(await recordFeedback(pool, { executionId: e, rating: 5, userId: 'dora' })).toMatchObject({ campaignFrozen: false });
		await pool.query(`UPDATE campaigns SET status = 'completed', completed_at = now() WHERE id = $1`, [frozen]);
		const campaignRows = async () =>
			(
				await pool.query(
					`SELECT (SELECT json_agg(s) FROM campaign_variant_stats s WHERE campaign_id = $1) AS variants,
						(SELECT json_agg(s) FROM campaign_unit_stats s WHERE campaign_id = $1) AS units`,
					[frozen],
				)
			).rows[0];
		const before = await campaignRows();
		const versionBefore = await versionAggregates(v2);
		const replaced = await recordFeedback(pool, { executionId: e, rating: 2, userId: 'dora' });
		const added = await recordFeedback(pool, { executionId: e, rating: 4, userId: 'eve' });
		expect([replaced, added]).toMatchObject([
			{ campaignFrozen: true, replaced: true, previousRating: 5 },
			{ campaignFrozen: true, replaced: false },
		]);
		expect(await campaignRows()).toEqual(before);
		expect(before.units).toEqual([expect.objectContaining({ unit_id: 'dora', rating_count: 1, rating_sum: 5 })]);
		const versionAfter = await versionAggregates(v2);
		expect(versionAfter.stored).toEqual(versionAfter.recomputed);
		expect(versionAfter.stored.count).toBe(versionBefore.stored.count + 1);
		expect(versionAfter.stored.sum).toBe(versionBefore.stored.sum - 5 + 2 + 4);
		expect((await pool.query('SELECT count(*)::int AS n FROM feedback WHERE campaign_id = $1', [frozen])).rows[0].n).toBe(2);
	});

	test('getTemplateStats sums a template over its versions, zero stats for an unrated version, errors name the field', async () => {
		const perVersion = await Promise.all([v1, v2].map((versionId) => getTemplateStats(pool, { versionId })));
		const total = await getTemplateStats(pool, { templateId });
		expect(total.versionId).toBeNull();
		expect(total.ratingCount).toBe(perVersion[0].ratingCount + perVersion[1].ratingCount);
		expect(total.executions).toBe(perVersion[0].executions + perVersion[1].executions);
		expect(total.histogram['5']).toBe(perVersion[0].histogram['5'] + perVersion[1].histogram['5']);
		const fresh = (await createVersion(pool, { id: templateId }, { positivePrompt: 'three' })).version.id;
		expect(await getTemplateStats(pool, { versionId: fresh })).toMatchObject({ executions: 0, ratingCount: 0, meanRating: null, goodShare: null });
		await expect(getTemplateStats(pool, { versionId: '987654' })).rejects.toMatchObject({ code: 'version_not_found', field: 'version' });
		await expect(getTemplateStats(pool, { templateId: randomUUID() })).rejects.toMatchObject({ code: 'template_not_found', field: 'template' });
	});

	test('parseFeedbackInput normalises what it accepts: trimmed ids, numbers as user ids, blank as absent', () => {
		const id = randomUUID();
		expect(parseFeedbackInput({ executionId: ` ${id.toUpperCase()} `, rating: '3', userId: 42, comment: '  ', source: ' ', idempotencyKey: ' k ' })).toEqual({
			executionId: id,
			promptId: null,
			rating: 3,
			userId: '42',
			comment: null,
			source: null,
			idempotencyKey: 'k',
		});
		expect(() => parseFeedbackInput([{ rating: 4 }])).toThrow(ValidationError);
		expect(() => parseFeedbackInput({ executionId: id, rating: 4, userId: { id: 1 } })).toThrow(expect.objectContaining({ code: 'invalid_input', field: 'userId' }));
	});
});
