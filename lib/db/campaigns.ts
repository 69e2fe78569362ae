/**
 * Campaigns repository: the SQL over campaigns, campaign_variants, campaign_assignments,
 * campaign_weights and the aggregate tables (campaign_unit_stats, campaign_variant_stats, kept by
 * Record Feedback and the executions repository in the same transaction as each event).
 *
 * Rows in, rows out. Input is validated by the use cases in lib/campaigns/ before it gets here;
 * the rules (state transitions, sticky hashing, Thompson allocation, the decision and the words
 * that explain it, promotion) live there too.
 */
import type { PoolClient } from 'pg';

import { ConflictError } from '../errors';
import type { PrimaryMetric } from '../stats';
import type { Queryable } from './pool';

export type CampaignStatus = 'draft' | 'running' | 'paused' | 'completed';
export type CampaignMode = 'fixed' | 'thompson';
/** A campaign by ID (a UUID) or by name (case-insensitive). */
export type CampaignRef = { id: string } | { name: string };

export const CAMPAIGN_STATUSES = ['draft', 'running', 'paused', 'completed'] as const satisfies readonly CampaignStatus[];
export const CAMPAIGN_MODES = ['fixed', 'thompson'] as const satisfies readonly CampaignMode[];

export interface CampaignVariant {
	id: string;
	key: string;
	position: number;
	templateId: string;
	templateName: string;
	versionId: string;
	version: number;
	/** Label the version was resolved from at creation (display only; the version is pinned). */
	label: string | null;
	weight: number;
	isControl: boolean;
}

export interface Campaign {
	id: string;
	name: string;
	description: string;
	status: CampaignStatus;
	primaryMetric: PrimaryMetric;
	mode: CampaignMode;
	thompsonFloor: number;
	minSamplePerVariant: number;
	seed: string;
	winnerVariantId: string | null;
	winnerVariantKey: string | null;
	variants: CampaignVariant[];
	createdAt: string;
	startedAt: string | null;
	completedAt: string | null;
	updatedAt: string;
}

interface CampaignRow {
	id: string;
	name: string;
	description: string;
	status: CampaignStatus;
	primary_metric: PrimaryMetric;
	mode: CampaignMode;
	thompson_floor: number;
	min_sample_per_variant: number;
	seed: string;
	winner_variant_id: string | null;
	created_at: Date;
	started_at: Date | null;
	completed_at: Date | null;
	updated_at: Date;
	variants: VariantJson[] | null;
	total?: string;
}

interface VariantJson {
	id: string;
	key: string;
	position: number;
	template_id: string;
	template_name: string;
	version_id: string;
	version: number;
	label: string | null;
	weight: number;
	is_control: boolean;
}

const CAMPAIGN_COLUMNS = `c.id, c.name, c.description, c.status, c.primary_metric, c.mode, c.thompson_floor,
	c.min_sample_per_variant, c.seed, c.winner_variant_id, c.created_at, c.started_at, c.completed_at, c.updated_at,
	(SELECT json_agg(json_build_object('id', v.id, 'key', v.key, 'position', v.position, 'template_id', v.template_id,
		'template_name', t.name, 'version_id', v.version_id::text, 'version', tv.version, 'label', v.label,
		'weight', v.weight, 'is_control', v.is_control) ORDER BY v.position)
	 FROM campaign_variants v JOIN templates t ON t.id = v.template_id JOIN template_versions tv ON tv.id = v.version_id
	 WHERE v.campaign_id = c.id) AS variants`;

function toVariant(v: VariantJson): CampaignVariant {
	return {
		id: v.id,
		key: v.key,
		position: v.position,
		templateId: v.template_id,
		templateName: v.template_name,
		versionId: String(v.version_id),
		version: v.version,
		label: v.label,
		weight: Number(v.weight),
		isControl: v.is_control,
	};
}

function toCampaign(row: CampaignRow): Campaign {
	const variants = (row.variants ?? []).map(toVariant);
	return {
		id: row.id,
		name: row.name,
		description: row.description,
		status: row.status,
		primaryMetric: row.primary_metric,
		mode: row.mode,
		thompsonFloor: Number(row.thompson_floor),
		minSamplePerVariant: row.min_sample_per_variant,
		seed: row.seed,
		winnerVariantId: row.winner_variant_id,
		winnerVariantKey: variants.find((v) => v.id === row.winner_variant_id)?.key ?? null,
		variants,
		createdAt: row.created_at.toISOString(),
		startedAt: row.started_at ? row.started_at.toISOString() : null,
		completedAt: row.completed_at ? row.completed_at.toISOString() : null,
		updatedAt: row.updated_at.toISOString(),
	};
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** WHERE condition of a reference; null for an ID that is not a UUID (it names no row, and Postgres would refuse the cast). */
function refCondition(ref: CampaignRef, param: string): { sql: string; value: string } | null {
	if ('id' in ref) return UUID_PATTERN.test(ref.id) ? { sql: `c.id = ${param}`, value: ref.id } : null;
	return { sql: `lower(c.name) = lower(${param})`, value: ref.name };
}

/** The campaign with its variants, or null; `forUpdate` locks its row until the transaction ends. */
export async function findCampaign(db: Queryable, ref: CampaignRef, options: { forUpdate?: boolean } = {}): Promise<Campaign | null> {
	const where = refCondition(ref, '$1');
	if (!where) return null;
	const { rows } = await db.query<CampaignRow>(
		`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns c WHERE ${where.sql}${options.forUpdate ? ' FOR UPDATE OF c' : ''}`,
		[where.value],
	);
	return rows.length ? toCampaign(rows[0]) : null;
}

/** Columns Get Many may sort by: input names → SQL. Nothing else reaches ORDER BY. */
const CAMPAIGN_SORT_COLUMNS = {
	createdAt: 'c.created_at',
	updatedAt: 'c.updated_at',
	startedAt: 'c.started_at',
	name: 'lower(c.name)',
	status: 'c.status',
} as const;
export type CampaignSortField = keyof typeof CAMPAIGN_SORT_COLUMNS;
export const CAMPAIGN_SORT_FIELDS = Object.keys(CAMPAIGN_SORT_COLUMNS) as [CampaignSortField, ...CampaignSortField[]];

const SORT_ORDERS = { asc: 'ASC NULLS LAST', desc: 'DESC NULLS LAST' } as const;
export type SortOrder = keyof typeof SORT_ORDERS;

export interface CampaignQuery {
	status?: CampaignStatus;
	/** Text to find in the name or description (matched literally, case-insensitive). */
	search?: string;
	sortBy: CampaignSortField;
	sortOrder: SortOrder;
	limit: number;
	offset: number;
}

export interface CampaignPage {
	items: Campaign[];
	total: number;
	nextOffset: number | null;
}

export async function queryCampaigns(db: Queryable, query: CampaignQuery): Promise<CampaignPage> {
	const where: string[] = [];
	const values: unknown[] = [];
	const param = (value: unknown) => {
		values.push(value);
		return `$${values.length}`;
	};
	if (query.status) where.push(`c.status = ${param(query.status)}`);
	if (query.search) {
		const pattern = param(`%${query.search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
		where.push(`(c.name ILIKE ${pattern} OR c.description ILIKE ${pattern})`);
	}
	const { rows } = await db.query<CampaignRow>(
		`SELECT ${CAMPAIGN_COLUMNS}, count(*) OVER () AS total FROM campaigns c
		 ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
		 ORDER BY ${CAMPAIGN_SORT_COLUMNS[query.sortBy]} ${SORT_ORDERS[query.sortOrder]}, c.id
		 LIMIT ${param(query.limit)} OFFSET ${param(query.offset)}`,
		values,
	);
	const total = rows.length ? Number(rows[0].total) : 0;
	const offset = query.offset;
	return { items: rows.map(toCampaign), total, nextOffset: offset + rows.length < total ? offset + rows.length : null };
}

// ───────────────────────────── writes ─────────────────────────────

export interface CampaignRecord {
	name: string;
	description: string;
	primaryMetric: PrimaryMetric;
	mode: CampaignMode;
	thompsonFloor: number;
	minSamplePerVariant: number;
	seed: string;
}

/** Inserts a draft campaign; a name taken (case-insensitively) is campaign_name_taken. */
export async function insertCampaign(client: PoolClient, campaign: CampaignRecord): Promise<string> {
	try {
		const { rows } = await client.query<{ id: string }>(
			`INSERT INTO campaigns (name, description, primary_metric, mode, thompson_floor, min_sample_per_variant, seed)
			 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			[campaign.name, campaign.description, campaign.primaryMetric, campaign.mode, campaign.thompsonFloor, campaign.minSamplePerVariant, campaign.seed],
		);
		return rows[0].id;
	} catch (error) {
		const e = error as { code?: string; constraint?: string };
		if (e?.code === '23505' && e.constraint === 'campaigns_name_key') {
			throw new ConflictError('campaign_name_taken', `A campaign named "${campaign.name}" already exists`, {
				field: 'name',
				hint: 'Choose another name',
				cause: error,
			});
		}
		throw error;
	}
}

export interface VariantRecord {
	campaignId: string;
	key: string;
	position: number;
	templateId: string;
	versionId: string;
	label: string | null;
	weight: number;
	isControl: boolean;
}

export async function insertVariant(client: PoolClient, variant: VariantRecord): Promise<void> {
	await client.query(
		`INSERT INTO campaign_variants (campaign_id, key, position, template_id, version_id, label, weight, is_control)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		[variant.campaignId, variant.key, variant.position, variant.templateId, variant.versionId, variant.label, variant.weight, variant.isControl],
	);
}

/** Sets the status, stamping started_at on the first start and completed_at on completion. */
export async function updateCampaignStatus(db: Queryable, campaignId: string, status: CampaignStatus): Promise<void> {
	await db.query(
		`UPDATE campaigns SET status = $2, updated_at = now(),
			started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,
			completed_at = CASE WHEN $2 = 'completed' THEN now() ELSE completed_at END
		 WHERE id = $1`,
		[campaignId, status],
	);
}

/** Records the winner and completes the campaign (keeping an earlier completion time). */
export async function recordWinner(db: Queryable, campaignId: string, variantId: string): Promise<void> {
	await db.query(
		`UPDATE campaigns SET winner_variant_id = $2, status = 'completed', completed_at = coalesce(completed_at, now()), updated_at = now()
		 WHERE id = $1`,
		[campaignId, variantId],
	);
}

// ───────────────────────────── assignment ─────────────────────────────

export interface WeightsRecord {
	id: string;
	weights: number[];
	computedAt: string;
}

export interface AssignmentContext {
	campaign: Campaign;
	/** The variant the unit was assigned to before, if any. */
	assignedVariantId: string | null;
	/** The allocation in force (Thompson campaigns only). */
	latestWeights: WeightsRecord | null;
}

/** Everything an assignment needs, in one round trip: the campaign, the unit's earlier variant, the latest allocation. */
export async function findAssignmentContext(db: Queryable, ref: CampaignRef, unitId: string): Promise<AssignmentContext | null> {
	const where = refCondition(ref, '$1');
	if (!where) return null;
	const { rows } = await db.query<
		CampaignRow & { assigned_variant_id: string | null; latest_weights: { id: string | number; weights: number[]; computed_at: string } | null }
	>(
		`SELECT ${CAMPAIGN_COLUMNS},
			(SELECT a.variant_id FROM campaign_assignments a WHERE a.campaign_id = c.id AND a.unit_id = $2) AS assigned_variant_id,
			CASE WHEN c.mode = 'thompson' THEN (SELECT row_to_json(w) FROM (SELECT id, weights, computed_at FROM campaign_weights
				WHERE campaign_id = c.id ORDER BY id DESC LIMIT 1) w) END AS latest_weights
		 FROM campaigns c WHERE ${where.sql}`,
		[where.value, unitId],
	);
	if (rows.length === 0) return null;
	const row = rows[0];
	const latest = row.latest_weights;
	return {
		campaign: toCampaign(row),
		assignedVariantId: row.assigned_variant_id,
		latestWeights: latest ? { id: String(latest.id), weights: latest.weights.map(Number), computedAt: latest.computed_at } : null,
	};
}

/**
 * Stores the unit's variant unless the unit has one already (first sight wins, race-free).
 * Returns the stored variant ID and whether this call stored it.
 */
export async function insertAssignment(
	db: Queryable,
	assignment: { campaignId: string; unitId: string; variantId: string; weightsId: string | null },
): Promise<{ variantId: string; inserted: boolean }> {
	const inserted = await db.query<{ variant_id: string }>(
		`INSERT INTO campaign_assignments (campaign_id, unit_id, variant_id, weights_id) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (campaign_id, unit_id) DO NOTHING RETURNING variant_id`,
		[assignment.campaignId, assignment.unitId, assignment.variantId, assignment.weightsId],
	);
	if (inserted.rows.length > 0) return { variantId: inserted.rows[0].variant_id, inserted: true };
	// Another worker assigned the unit between our read and our insert: its row wins.
	const existing = await db.query<{ variant_id: string }>(
		'SELECT variant_id FROM campaign_assignments WHERE campaign_id = $1 AND unit_id = $2',
		[assignment.campaignId, assignment.unitId],
	);
	return { variantId: existing.rows[0].variant_id, inserted: false };
}

// ───────────────────────────── Thompson allocations ─────────────────────────────

/**
 * Takes the transaction-scoped advisory lock under which one worker recomputes a campaign's
 * allocation: `wait` blocks until it is free, otherwise false when another worker holds it.
 */
export async function lockAllocation(client: PoolClient, campaignId: string, wait: boolean): Promise<boolean> {
	const lockKey = `n8n-nodes-promptlab:thompson:${campaignId}`;
	if (wait) {
		await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
		return true;
	}
	const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [lockKey]);
	return rows[0].locked;
}

/** The newest allocation, whether it is younger than `freshMs` by the database clock, and how many there are. */
export async function latestAllocation(
	db: Queryable,
	campaignId: string,
	freshMs: number,
): Promise<{ id: string; weights: number[]; fresh: boolean; periods: number } | null> {
	const { rows } = await db.query<{ id: string; weights: number[]; fresh: boolean; periods: string }>(
		`SELECT id, weights, computed_at > now() - make_interval(secs => $2::float8 / 1000) AS fresh,
			(SELECT count(*) FROM campaign_weights WHERE campaign_id = $1) AS periods
		 FROM campaign_weights WHERE campaign_id = $1 ORDER BY id DESC LIMIT 1`,
		[campaignId, freshMs],
	);
	if (rows.length === 0) return null;
	return { id: String(rows[0].id), weights: rows[0].weights.map(Number), fresh: rows[0].fresh, periods: Number(rows[0].periods) };
}

export async function insertAllocation(db: Queryable, campaignId: string, weights: number[], basis: Record<string, unknown>): Promise<string> {
	const { rows } = await db.query<{ id: string }>(
		'INSERT INTO campaign_weights (campaign_id, weights, basis) VALUES ($1, $2, $3) RETURNING id',
		[campaignId, weights, JSON.stringify(basis)],
	);
	return String(rows[0].id);
}

/** Per variant (in position order): rated units with their summed good-rating shares, finished and succeeded executions. */
export interface ArmCounts {
	variantId: string;
	ratedUnits: number;
	goodShareSum: number;
	finished: number;
	succeeded: number;
}

export async function armCounts(db: Queryable, campaignId: string): Promise<ArmCounts[]> {
	const { rows } = await db.query<{ id: string; rated_units: string; good_share_sum: number; finished: string; succeeded: string }>(
		`SELECT v.id,
			coalesce(u.rated_units, 0) AS rated_units, coalesce(u.good_share_sum, 0) AS good_share_sum,
			coalesce(s.succeeded + s.failed, 0) AS finished, coalesce(s.succeeded, 0) AS succeeded
		 FROM campaign_variants v
		 LEFT JOIN LATERAL (
			SELECT count(*) FILTER (WHERE rating_count > 0) AS rated_units,
			       sum(good_count::float8 / rating_count) FILTER (WHERE rating_count > 0) AS good_share_sum
			FROM campaign_unit_stats us WHERE us.variant_id = v.id) u ON true
		 LEFT JOIN campaign_variant_stats s ON s.variant_id = v.id
		 WHERE v.campaign_id = $1 ORDER BY v.position`,
		[campaignId],
	);
	return rows.map((r) => ({
		variantId: r.id,
		ratedUnits: Number(r.rated_units),
		goodShareSum: Number(r.good_share_sum),
		finished: Number(r.finished),
		succeeded: Number(r.succeeded),
	}));
}

/** Every allocation period of a campaign with the units assigned under it. */
export async function allocationPeriods(db: Queryable, campaignId: string): Promise<{ weights: number[]; units: number }[]> {
	const { rows } = await db.query<{ weights: number[]; units: string }>(
		`SELECT w.weights, coalesce(p.units, 0) AS units
		 FROM campaign_weights w
		 LEFT JOIN (SELECT weights_id, count(*) AS units FROM campaign_assignments
		            WHERE campaign_id = $1 AND weights_id IS NOT NULL GROUP BY weights_id) p ON p.weights_id = w.id
		 WHERE w.campaign_id = $1`,
		[campaignId],
	);
	return rows.map((r) => ({ weights: r.weights.map(Number), units: Number(r.units) }));
}

// ───────────────────────────── results ─────────────────────────────

/**
 * Per variant (in position order), from the aggregate tables only: units from
 * campaign_assignments (index on variant_id), per-unit rating sums from campaign_unit_stats (the
 * sums lib/stats/decision.ts works on), execution and rating totals from campaign_variant_stats.
 */
export interface VariantAggregates {
	variantId: string;
	units: number;
	ratedUnits: number;
	goodShareSum: number;
	unitMeanRatingSum: number;
	unitMeanRatingSumSq: number;
	/** Executions started (any status). */
	executions: number;
	succeeded: number;
	failed: number;
	durationMsSum: number;
	durationCount: number;
	ratingCount: number;
	ratingSum: number;
	goodCount: number;
}

export async function variantAggregates(db: Queryable, campaignId: string): Promise<VariantAggregates[]> {
	const { rows } = await db.query<{
		id: string;
		units: string;
		rated_units: string;
		good_share_sum: number;
		unit_mean_rating_sum: number;
		unit_mean_rating_sum_sq: number;
		executions: string;
		succeeded: string;
		failed: string;
		duration_ms_sum: string;
		duration_count: string;
		rating_count: string;
		rating_sum: string;
		good_count: string;
	}>(
		`SELECT v.id,
			(SELECT count(*) FROM campaign_assignments a WHERE a.variant_id = v.id) AS units,
			coalesce(u.rated_units, 0) AS rated_units, coalesce(u.good_share_sum, 0) AS good_share_sum,
			coalesce(u.unit_mean_rating_sum, 0) AS unit_mean_rating_sum, coalesce(u.unit_mean_rating_sum_sq, 0) AS unit_mean_rating_sum_sq,
			coalesce(s.executions, 0) AS executions, coalesce(s.succeeded, 0) AS succeeded, coalesce(s.failed, 0) AS failed,
			coalesce(s.duration_ms_sum, 0) AS duration_ms_sum, coalesce(s.duration_count, 0) AS duration_count,
			coalesce(s.rating_count, 0) AS rating_count, coalesce(s.rating_sum, 0) AS rating_sum, coalesce(s.good_count, 0) AS good_count
		 FROM campaign_variants v
		 LEFT JOIN LATERAL (
			SELECT count(*) AS rated_units,
			       sum(good_count::float8 / rating_count) AS good_share_sum,
			       sum(rating_sum::float8 / rating_count) AS unit_mean_rating_sum,
			       sum((rating_sum::float8 / rating_count) ^ 2) AS unit_mean_rating_sum_sq
			FROM campaign_unit_stats us WHERE us.variant_id = v.id AND us.rating_count > 0) u ON true
		 LEFT JOIN campaign_variant_stats s ON s.variant_id = v.id
		 WHERE v.campaign_id = $1 ORDER BY v.position`,
		[campaignId],
	);
	return rows.map((r) => ({
		variantId: r.id,
		units: Number(r.units),
		ratedUnits: Number(r.rated_units),
		goodShareSum: Number(r.good_share_sum),
		unitMeanRatingSum: Number(r.unit_mean_rating_sum),
		unitMeanRatingSumSq: Number(r.unit_mean_rating_sum_sq),
		executions: Number(r.executions),
		succeeded: Number(r.succeeded),
		failed: Number(r.failed),
		durationMsSum: Number(r.duration_ms_sum),
		durationCount: Number(r.duration_count),
		ratingCount: Number(r.rating_count),
		ratingSum: Number(r.rating_sum),
		goodCount: Number(r.good_count),
	}));
}
