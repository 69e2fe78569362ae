/**
 * Feedback repository: 1–5 ratings on executions, and the rating aggregates they move. SQL and
 * row mapping only; the input is validated once by the use case in lib/feedback/record.ts.
 *
 * A rating is written by ONE SQL statement (a prepared, data-modifying CTE), which is both the
 * fastest way (one round trip, see bench/feedback-writes.ts) and what keeps the aggregates exact
 * under concurrent writers in READ COMMITTED:
 * - explicit idempotency keys are claimed in feedback_idempotency_keys with ON CONFLICT DO NOTHING;
 *   a second writer with the same key waits for the first and then claims nothing → duplicate;
 * - the rating is an upsert on (execution_id, user_id); ON CONFLICT DO UPDATE locks the newest
 *   version of the row (even one committed after our snapshot) and copies its rating into
 *   previous_rating, so the delta is taken against what is really stored;
 * - the aggregates are upserts that add that delta (x = x + d), which Postgres re-evaluates on the
 *   newest row version after waiting for its lock;
 * - a completed campaign is frozen: the rating is stored and moves template_stats, but not the
 *   campaign's variant and unit aggregates. The statement reads the campaign's status FOR KEY SHARE
 *   (the lock the feedback row's foreign key takes anyway), which waits for a Complete or Promote in
 *   progress (they hold the row FOR UPDATE) and then reads its committed status; a Complete or
 *   Promote in turn waits for ratings that passed the gate. So the frozen aggregates hold exactly
 *   the ratings committed before the completion, and the results Promote decided on stay as they were.
 * Locks are taken in one order: campaign row (KEY SHARE) → key ledger → feedback row → template_stats
 * → campaign_variant_stats → campaign_unit_stats. lib/db/executions.ts finishes runs in the order
 * execution row → template_stats → campaign row (KEY SHARE) → campaign_variant_stats; KEY SHARE locks
 * never conflict with each other, and the FOR UPDATE holders (lib/campaigns lifecycle and promote)
 * wait for nothing these writers hold, so no deadlocks.
 */
import type { Pool, PoolClient } from 'pg';

import { ConflictError, NotFoundError } from '../errors';
import { UUID_PATTERN } from './executions';
import type { Queryable } from './pool';

export type Rating = 1 | 2 | 3 | 4 | 5;

/** A validated rating to store (what lib/feedback/record.ts hands over). */
export interface FeedbackWrite {
	/** Our execution id (a UUID), or null when the execution is found by promptId. */
	executionId: string | null;
	promptId: string | null;
	rating: Rating;
	comment: string | null;
	userId: string;
	source: string | null;
	/** Explicit key; null: derived from execution + user (latest content wins). */
	idempotencyKey: string | null;
}

export interface Feedback {
	id: string; // bigint as string
	executionId: string;
	templateId: string | null;
	versionId: string | null;
	campaignId: string | null;
	variantId: string | null;
	userId: string;
	rating: Rating;
	comment: string | null;
	source: string | null;
	idempotencyKey: string;
	createdAt: string;
	updatedAt: string;
}

export interface TemplateStats {
	templateId: string;
	/** null for a template-wide total over all versions. */
	versionId: string | null;
	executions: number;
	succeeded: number;
	/** failed + lost */
	failed: number;
	cancelled: number;
	/** succeeded / (succeeded + failed); null before the first finished run. */
	successRate: number | null;
	/** Mean duration of successful runs. */
	avgDurationMs: number | null;
	ratingCount: number;
	ratingSum: number;
	ratingSumSq: number;
	meanRating: number | null;
	/** Sample standard deviation of the ratings (n − 1; 0 with a single rating). */
	stddevRating: number | null;
	/** Count of ratings per star. */
	histogram: Record<'1' | '2' | '3' | '4' | '5', number>;
	/** Ratings ≥ 4. */
	goodCount: number;
	/** Share of ratings ≥ 4 (the campaigns' primary metric). */
	goodShare: number | null;
	lastExecutionAt: string | null;
	lastRatingAt: string | null;
}

interface StatsRow {
	template_id: string;
	version_id: string | number | null;
	executions: string | number | null;
	succeeded: string | number | null;
	failed: string | number | null;
	cancelled: string | number | null;
	duration_ms_sum: string | number | null;
	duration_count: string | number | null;
	rating_count: string | number | null;
	rating_sum: string | number | null;
	rating_sum_sq: string | number | null;
	rating_hist: Array<string | number> | null;
	last_execution_at: Date | string | null;
	last_rating_at: Date | string | null;
}

interface FeedbackRow {
	id: string | number;
	execution_id: string;
	template_id: string | null;
	version_id: string | number | null;
	campaign_id: string | null;
	variant_id: string | null;
	user_id: string;
	rating: number;
	previous_rating?: number | null;
	comment: string | null;
	source: string | null;
	idempotency_key: string;
	created_at: Date | string;
	updated_at: Date | string;
}

function isoOrNull(value: Date | string | null | undefined): string | null {
	if (value === null || value === undefined) return null;
	return (value instanceof Date ? value : new Date(value)).toISOString();
}

function toFeedback(row: FeedbackRow): Feedback {
	return {
		id: String(row.id),
		executionId: row.execution_id,
		templateId: row.template_id,
		versionId: row.version_id === null ? null : String(row.version_id),
		campaignId: row.campaign_id,
		variantId: row.variant_id,
		userId: row.user_id,
		rating: row.rating as Rating,
		comment: row.comment,
		source: row.source,
		idempotencyKey: row.idempotency_key,
		createdAt: isoOrNull(row.created_at) as string,
		updatedAt: isoOrNull(row.updated_at) as string,
	};
}

/** Aggregates → the numbers a user reads (works for rows from pg, where bigint is a string, and from row_to_json). */
export function toTemplateStats(row: StatsRow): TemplateStats {
	const n = (v: string | number | null | undefined) => (v === null || v === undefined ? 0 : Number(v));
	const hist = [0, 1, 2, 3, 4].map((k) => n(row.rating_hist?.[k]));
	const succeeded = n(row.succeeded);
	const failed = n(row.failed);
	const ratingCount = n(row.rating_count);
	const ratingSum = n(row.rating_sum);
	const ratingSumSq = n(row.rating_sum_sq);
	const durationCount = n(row.duration_count);
	// Same formula as lib/stats meanWithCi, without its t quantile: this runs on every write.
	const mean = ratingCount > 0 ? ratingSum / ratingCount : null;
	const variance = ratingCount > 1 ? Math.max(0, (ratingSumSq - (ratingSum * ratingSum) / ratingCount) / (ratingCount - 1)) : 0;
	const goodCount = hist[3] + hist[4];
	return {
		templateId: row.template_id,
		versionId: row.version_id === null || row.version_id === undefined ? null : String(row.version_id),
		executions: n(row.executions),
		succeeded,
		failed,
		cancelled: n(row.cancelled),
		successRate: succeeded + failed > 0 ? succeeded / (succeeded + failed) : null,
		avgDurationMs: durationCount > 0 ? n(row.duration_ms_sum) / durationCount : null,
		ratingCount,
		ratingSum,
		ratingSumSq,
		meanRating: mean,
		stddevRating: mean === null ? null : Math.sqrt(variance),
		histogram: { '1': hist[0], '2': hist[1], '3': hist[2], '4': hist[3], '5': hist[4] },
		goodCount,
		goodShare: ratingCount > 0 ? goodCount / ratingCount : null,
		lastExecutionAt: isoOrNull(row.last_execution_at),
		lastRatingAt: isoOrNull(row.last_rating_at),
	};
}

const FEEDBACK_COLUMNS = `id, execution_id, template_id, version_id, campaign_id, variant_id, user_id, rating, comment, source,
	idempotency_key, created_at, updated_at`;

/** Hist delta for star k: +1 for the new rating, −1 for the replaced one. */
const histDelta = [1, 2, 3, 4, 5]
	.map((k) => `(up.rating = ${k})::int - coalesce((up.previous_rating = ${k})::int, 0)`)
	.join(', ');
const histSum = [1, 2, 3, 4, 5].map((k) => `s.rating_hist[${k}] + EXCLUDED.rating_hist[${k}]`).join(', ');

/**
 * $1 execution id (uuid) or ComfyUI prompt id, $2 user id, $3 rating, $4 comment, $5 source,
 * $6 explicit idempotency key (NULL: derived from execution + user, latest content wins),
 * $7 asynchronous commit (see RecordFeedbackOptions).
 */
function recordStatement(lookup: 'id' | 'promptId'): string {
	const where = lookup === 'id' ? 'e.id = $1::uuid' : 'e.prompt_id = $1::text';
	return `WITH ex AS (
	SELECT e.id, e.template_id, e.version_id, e.campaign_id, e.variant_id, coalesce(e.user_id, $2::text) AS unit_id,
		-- the status gate (see the top of the file); NULL without a campaign
		(SELECT c.status = 'completed' FROM campaigns c WHERE c.id = e.campaign_id FOR KEY SHARE) AS campaign_frozen
	FROM executions e WHERE ${where}
), claim AS (
	INSERT INTO feedback_idempotency_keys (idempotency_key, execution_id, user_id, rating)
	SELECT $6::text, ex.id, $2::text, $3::smallint FROM ex WHERE $6::text IS NOT NULL
	ON CONFLICT (idempotency_key) DO NOTHING
	RETURNING idempotency_key
), target AS (
	SELECT ex.* FROM ex WHERE $6::text IS NULL OR EXISTS (SELECT 1 FROM claim)
), up AS (
	INSERT INTO feedback AS f (execution_id, template_id, version_id, campaign_id, variant_id, user_id, rating, comment,
		source, idempotency_key)
	SELECT t.id, t.template_id, t.version_id, t.campaign_id, t.variant_id, $2::text, $3::smallint, $4::text, $5::text,
		coalesce($6::text, t.id::text || ':' || $2::text)
	FROM target t
	ON CONFLICT (execution_id, user_id) DO UPDATE SET
		rating = EXCLUDED.rating, comment = EXCLUDED.comment, source = EXCLUDED.source,
		idempotency_key = EXCLUDED.idempotency_key, previous_rating = f.rating, updated_at = now()
	-- a derived key with unchanged content is a retry: keep the row as it is (and count nothing)
	WHERE $6::text IS NOT NULL OR f.rating <> EXCLUDED.rating OR f.comment IS DISTINCT FROM EXCLUDED.comment
	RETURNING f.id, f.execution_id, f.template_id, f.version_id, f.campaign_id, f.variant_id, f.user_id, f.rating,
		f.previous_rating, f.comment, f.source, f.idempotency_key, f.created_at, f.updated_at
), delta AS (
	SELECT up.template_id, up.version_id, up.campaign_id, up.variant_id, ex.unit_id,
		(up.variant_id IS NOT NULL AND up.campaign_id IS NOT NULL AND ex.campaign_frozen IS FALSE) AS counts_for_campaign,
		(up.previous_rating IS NULL)::int AS d_count,
		up.rating - coalesce(up.previous_rating, 0) AS d_sum,
		up.rating * up.rating - coalesce(up.previous_rating * up.previous_rating, 0) AS d_sum_sq,
		(up.rating >= 4)::int - coalesce((up.previous_rating >= 4)::int, 0) AS d_good,
		ARRAY[${histDelta}]::bigint[] AS d_hist
	FROM up CROSS JOIN ex
), ts AS (
	INSERT INTO template_stats AS s (version_id, template_id, rating_count, rating_sum, rating_sum_sq, rating_hist, last_rating_at)
	SELECT d.version_id, d.template_id, d.d_count, d.d_sum, d.d_sum_sq, d.d_hist, now()
	FROM delta d WHERE d.version_id IS NOT NULL AND d.template_id IS NOT NULL
	ON CONFLICT (version_id) DO UPDATE SET
		rating_count = s.rating_count + EXCLUDED.rating_count,
		rating_sum = s.rating_sum + EXCLUDED.rating_sum,
		rating_sum_sq = s.rating_sum_sq + EXCLUDED.rating_sum_sq,
		rating_hist = ARRAY[${histSum}]::bigint[],
		last_rating_at = EXCLUDED.last_rating_at
	RETURNING s.*
), vs AS (
	INSERT INTO campaign_variant_stats AS s (variant_id, campaign_id, rating_count, rating_sum, rating_sum_sq, good_count)
	SELECT d.variant_id, d.campaign_id, d.d_count, d.d_sum, d.d_sum_sq, d.d_good
	FROM delta d WHERE d.counts_for_campaign
	ON CONFLICT (variant_id) DO UPDATE SET
		rating_count = s.rating_count + EXCLUDED.rating_count,
		rating_sum = s.rating_sum + EXCLUDED.rating_sum,
		rating_sum_sq = s.rating_sum_sq + EXCLUDED.rating_sum_sq,
		good_count = s.good_count + EXCLUDED.good_count
	RETURNING 1
), us AS (
	INSERT INTO campaign_unit_stats AS s (campaign_id, unit_id, variant_id, rating_count, rating_sum, good_count)
	SELECT d.campaign_id, d.unit_id, d.variant_id, d.d_count, d.d_sum, d.d_good
	FROM delta d WHERE d.counts_for_campaign
	ON CONFLICT (campaign_id, unit_id) DO UPDATE SET
		rating_count = s.rating_count + EXCLUDED.rating_count,
		rating_sum = s.rating_sum + EXCLUDED.rating_sum,
		good_count = s.good_count + EXCLUDED.good_count
	RETURNING 1
)
-- scalar subqueries run left to right: that fixes the lock order described at the top of the file
SELECT (SELECT ex.id FROM ex) AS execution_id,
	(SELECT ex.version_id FROM ex) AS version_id,
	(SELECT ex.campaign_frozen FROM ex) AS campaign_frozen,
	(SELECT row_to_json(up) FROM up) AS feedback,
	(SELECT row_to_json(ts) FROM ts) AS stats,
	(SELECT count(*) FROM vs)::int AS variant_rows,
	(SELECT count(*) FROM us)::int AS unit_rows,
	-- opt-in asynchronous commit for this statement's implicit transaction only (is_local = true):
	-- Postgres reads the setting when it writes the commit record, before the setting reverts
	(SELECT set_config('synchronous_commit', 'off', true) WHERE $7::boolean) AS commit_mode`;
}

const STATEMENTS = {
	id: { name: 'promptlab_record_feedback_by_id_v3', text: recordStatement('id') },
	promptId: { name: 'promptlab_record_feedback_by_prompt_id_v3', text: recordStatement('promptId') },
};

export interface RecordFeedbackOptions {
	/**
	 * Commit without waiting for the WAL flush (synchronous_commit = off for this write only).
	 * Roughly halves write latency on a disk with a slow fsync; the price is that a Postgres
	 * crash (not an n8n crash) can lose the last few hundred milliseconds of acknowledged ratings.
	 * The database stays consistent either way: feedback and aggregates commit together. Default false.
	 */
	asyncCommit?: boolean;
}

interface RecordRow {
	execution_id: string | null;
	version_id: string | number | null;
	campaign_frozen: boolean | null;
	feedback: FeedbackRow | null;
	stats: StatsRow | null;
}

/** Unique violation on the idempotency key of another (execution, user): see the retry in writeFeedback. */
function isKeyViolation(error: unknown): boolean {
	const e = error as { code?: string; constraint?: string };
	return e?.code === '23505' && e.constraint === 'feedback_idempotency_key_key';
}

const KEY_ATTEMPTS = 3;

/** What the one statement did. */
export interface FeedbackWriteResult {
	/** The execution rated; null when no execution has that id or prompt id (nothing was written). */
	executionId: string | null;
	/** Its template version (null for executions without one). */
	versionId: string | null;
	/** The row written; null when nothing was written (the key or the content was seen before). */
	feedback: Feedback | null;
	/** The rating the write replaced (null for a first rating). */
	previousRating: Rating | null;
	/** The version's aggregates after the write (null when nothing was written or there is no version). */
	stats: TemplateStats | null;
	/**
	 * The execution belongs to a completed campaign, whose results no longer change: the rating
	 * counts for the template version only. False for executions outside a campaign.
	 */
	campaignFrozen: boolean;
}

/**
 * Writes a rating with the one statement described at the top of the file.
 * `db` is a Pool or a client (each call is one statement, so it needs no transaction of its own).
 */
export async function writeFeedback(db: Pool | PoolClient, write: FeedbackWrite, options: RecordFeedbackOptions = {}): Promise<FeedbackWriteResult> {
	const statement = write.executionId ? STATEMENTS.id : STATEMENTS.promptId;
	const ref = write.executionId ?? write.promptId;
	const values = [ref, write.userId, write.rating, write.comment, write.source, write.idempotencyKey, options.asyncCommit === true];
	let row: RecordRow | undefined;
	for (let attempt = 1; !row; attempt++) {
		try {
			const result = await db.query<RecordRow>({ name: statement.name, text: statement.text, values });
			row = result.rows[0];
		} catch (error) {
			// Two first ratings of one user racing on the derived key can meet on the key's unique
			// index before the (execution, user) upsert sees the other; the retry takes the upsert path.
			// An explicit key that equals another row's key (derived or not) stays a violation.
			if (!isKeyViolation(error)) throw error;
			if (attempt >= KEY_ATTEMPTS) {
				throw new ConflictError('idempotency_key_reused', `Idempotency key "${write.idempotencyKey ?? ''}" already belongs to feedback on another execution or by another user`, {
					field: 'idempotencyKey',
					hint: 'Send a key unique to this rating request',
					cause: error,
				});
			}
		}
	}
	const previous = row.feedback?.previous_rating ?? null;
	return {
		executionId: row.execution_id,
		versionId: row.version_id === null ? null : String(row.version_id),
		feedback: row.feedback ? toFeedback(row.feedback) : null,
		previousRating: previous as Rating | null,
		stats: row.stats ? toTemplateStats(row.stats) : null,
		campaignFrozen: row.campaign_frozen === true,
	};
}

/** The request an explicit idempotency key was first accepted for (the key ledger). */
export interface IdempotencyKeyUse {
	executionId: string;
	userId: string;
	rating: Rating;
}

export async function findIdempotencyKey(db: Queryable, key: string): Promise<IdempotencyKeyUse | null> {
	const { rows } = await db.query<{ execution_id: string; user_id: string; rating: number }>(
		'SELECT execution_id, user_id, rating FROM feedback_idempotency_keys WHERE idempotency_key = $1',
		[key],
	);
	return rows[0] ? { executionId: rows[0].execution_id, userId: rows[0].user_id, rating: rows[0].rating as Rating } : null;
}

/** The stored feedback of one user on one execution, if any. */
export async function findFeedback(db: Queryable, executionId: string, userId: string): Promise<Feedback | null> {
	const { rows } = await db.query<FeedbackRow>(`SELECT ${FEEDBACK_COLUMNS} FROM feedback WHERE execution_id = $1 AND user_id = $2`, [
		executionId,
		userId,
	]);
	return rows[0] ? toFeedback(rows[0]) : null;
}

/**
 * Aggregates of one version, or summed over all versions of a template. A version or template
 * without any run yet has all-zero stats (not an error); an unknown one is a NotFoundError.
 */
export async function getTemplateStats(db: Queryable, ref: { versionId: string | number } | { templateId: string }): Promise<TemplateStats> {
	if ('versionId' in ref) {
		const versionId = String(ref.versionId).trim();
		// An id that cannot exist is not found (and never reaches Postgres as an invalid bigint).
		if (!/^[1-9][0-9]{0,18}$/.test(versionId)) throw new NotFoundError('version_not_found', `"${versionId}" is not a version ID`, { field: 'version' });
		const { rows } = await db.query<StatsRow>(
			`SELECT v.template_id, v.id AS version_id, s.executions, s.succeeded, s.failed, s.cancelled, s.duration_ms_sum,
				s.duration_count, s.rating_count, s.rating_sum, s.rating_sum_sq, s.rating_hist, s.last_execution_at, s.last_rating_at
			 FROM template_versions v LEFT JOIN template_stats s ON s.version_id = v.id WHERE v.id = $1`,
			[versionId],
		);
		if (rows.length === 0) throw new NotFoundError('version_not_found', `Template version ${versionId} not found`, { field: 'version' });
		return toTemplateStats(rows[0]);
	}
	const templateId = String(ref.templateId).trim();
	if (!UUID_PATTERN.test(templateId)) {
		throw new NotFoundError('template_not_found', `"${templateId}" is not a template ID (expected a UUID)`, { field: 'template' });
	}
	const { rows } = await db.query<StatsRow>(
		`SELECT t.id AS template_id, NULL AS version_id,
			sum(s.executions) AS executions, sum(s.succeeded) AS succeeded, sum(s.failed) AS failed,
			sum(s.cancelled) AS cancelled, sum(s.duration_ms_sum) AS duration_ms_sum, sum(s.duration_count) AS duration_count,
			sum(s.rating_count) AS rating_count, sum(s.rating_sum) AS rating_sum, sum(s.rating_sum_sq) AS rating_sum_sq,
			ARRAY[coalesce(sum(s.rating_hist[1]), 0), coalesce(sum(s.rating_hist[2]), 0), coalesce(sum(s.rating_hist[3]), 0),
			      coalesce(sum(s.rating_hist[4]), 0), coalesce(sum(s.rating_hist[5]), 0)] AS rating_hist,
			max(s.last_execution_at) AS last_execution_at, max(s.last_rating_at) AS last_rating_at
		 FROM templates t LEFT JOIN template_stats s ON s.template_id = t.id WHERE t.id = $1 GROUP BY t.id`,
		[templateId],
	);
	if (rows.length === 0) throw new NotFoundError('template_not_found', `Template ${templateId} not found`, { field: 'template' });
	return toTemplateStats(rows[0]);
}
