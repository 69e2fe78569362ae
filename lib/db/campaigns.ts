/**
 * Campaigns repository: A/B campaigns over template versions, sticky assignment of units
 * (users) to variants, results from the aggregate tables, and promotion of the winner.
 *
 * - Assignment is deterministic (lib/stats assignVariant: GrowthBook FNV-1a of seed + unit id onto
 *   the weights) and persisted on first sight with INSERT … ON CONFLICT DO NOTHING, then read
 *   back, so concurrent workers always agree and later weight changes never move a unit.
 * - Results read only campaign_assignments, campaign_unit_stats and campaign_variant_stats (kept
 *   by Record Feedback in the same transaction as each event), never feedback or executions.
 * - Promotion moves the winning template's production label with setLabel, so it is recorded in
 *   the label history like any other move.
 */
import { randomBytes } from 'node:crypto';

import type { Pool, PoolClient } from 'pg';

import {
	analyseCampaign,
	assignVariant,
	PRIMARY_METRICS,
	seededRandom,
	thompsonWeights,
	type CampaignAnalysis,
	type CampaignStatus as DecisionStatus,
	type CampaignVariantInput,
	type Interval,
	type PrimaryMetric,
	type SrmResult,
} from '../stats';
import { ConflictError, NotFoundError, PromptLabError } from './errors';
import { withTransaction, type Queryable } from './pool';
import { getTemplate, LABEL_PATTERN, resolveVersion, setLabel, type LabelMove, type TemplateRef } from './templates';

export type CampaignStatus = 'draft' | 'running' | 'paused' | 'completed';
export type CampaignMode = 'fixed' | 'thompson';
export type CampaignRef = { id: string } | { name: string };

export const CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['draft', 'running', 'paused', 'completed'];
export const CAMPAIGN_MODES: readonly CampaignMode[] = ['fixed', 'thompson'];
export { PRIMARY_METRICS, type PrimaryMetric };

export const VARIANT_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How often a Thompson campaign recomputes its split (one worker does it, under a lock). */
export const THOMPSON_REFRESH_MS = 10 * 60_000;
/** GrowthBook waits for 100 units per arm before a bandit adapts; smaller campaigns wait for their minimum sample. */
const THOMPSON_BURN_IN = 100;
const THOMPSON_DRAWS = 10_000;

export interface CampaignVariantSpec {
	key: string;
	/** Template by name or ID. */
	template: TemplateRef;
	/** Exact version number; otherwise `label` (default production) is resolved at creation. */
	version?: number;
	label?: string;
	weight: number;
	isControl: boolean;
}

export interface CreateCampaignInput {
	name: string;
	description?: string;
	variants: CampaignVariantSpec[];
	primaryMetric?: PrimaryMetric;
	minSamplePerVariant?: number;
	mode?: CampaignMode;
	/** Minimum share of traffic per variant in Thompson mode (default 0.05). */
	thompsonFloor?: number;
	/** Hashing seed; generated when absent. Same seed + unit id → same variant. */
	seed?: string;
}

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

function refCondition(ref: CampaignRef): { sql: string; value: string } {
	if ('id' in ref) {
		if (!UUID_PATTERN.test(ref.id)) {
			throw new NotFoundError(`"${ref.id}" is not a campaign ID (expected a UUID); pick the campaign by name instead`, 'campaign');
		}
		return { sql: 'c.id = $1', value: ref.id };
	}
	const name = ref.name.trim();
	if (!name) throw new NotFoundError('No campaign given: pick one from the list, or give its name or ID', 'campaign');
	return { sql: 'lower(c.name) = lower($1)', value: name };
}

function describeRef(ref: CampaignRef): string {
	return 'id' in ref ? `with ID ${ref.id}` : `"${ref.name.trim()}"`;
}

export async function getCampaign(db: Queryable, ref: CampaignRef, options: { forUpdate?: boolean } = {}): Promise<Campaign> {
	const where = refCondition(ref);
	const { rows } = await db.query<CampaignRow>(
		`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns c WHERE ${where.sql}${options.forUpdate ? ' FOR UPDATE OF c' : ''}`,
		[where.value],
	);
	if (rows.length === 0) throw new NotFoundError(`Campaign ${describeRef(ref)} not found`, 'campaign');
	return toCampaign(rows[0]);
}

export interface CampaignFilters {
	status?: CampaignStatus;
	search?: string;
	limit: number;
	offset?: number;
}

export async function listCampaigns(
	db: Queryable,
	filters: CampaignFilters,
): Promise<{ items: Campaign[]; total: number; nextOffset: number | null }> {
	const where: string[] = [];
	const values: unknown[] = [];
	const param = (value: unknown) => {
		values.push(value);
		return `$${values.length}`;
	};
	if (filters.status) {
		if (!CAMPAIGN_STATUSES.includes(filters.status)) {
			throw new ConflictError(`Unknown status "${String(filters.status)}" (use ${CAMPAIGN_STATUSES.join(', ')})`, 'status');
		}
		where.push(`c.status = ${param(filters.status)}`);
	}
	if (filters.search?.trim()) {
		const p = param(`%${filters.search.trim().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
		where.push(`(c.name ILIKE ${p} OR c.description ILIKE ${p})`);
	}
	const offset = filters.offset ?? 0;
	const { rows } = await db.query<CampaignRow>(
		`SELECT ${CAMPAIGN_COLUMNS}, count(*) OVER () AS total FROM campaigns c
		 ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
		 ORDER BY c.created_at DESC, c.id LIMIT ${param(filters.limit)} OFFSET ${param(offset)}`,
		values,
	);
	const total = rows.length ? Number(rows[0].total) : 0;
	return { items: rows.map(toCampaign), total, nextOffset: offset + rows.length < total ? offset + rows.length : null };
}

// ───────────────────────────── create ─────────────────────────────

/** Checks everything that does not need the database, so a bad request writes nothing. */
function validateCreate(input: CreateCampaignInput): Required<Omit<CreateCampaignInput, 'description' | 'seed'>> & {
	description: string;
	seed: string;
} {
	const name = (input.name ?? '').trim();
	if (!name) throw new ConflictError('A campaign needs a name', 'name');
	if (name.length > 200) throw new ConflictError('The campaign name must be at most 200 characters', 'name');
	const variants = input.variants ?? [];
	if (variants.length < 2) {
		throw new ConflictError(`A campaign needs at least two variants (a control and one to compare), got ${variants.length}`, 'variants');
	}
	const keys = new Set<string>();
	variants.forEach((v, i) => {
		const key = (v.key ?? '').trim();
		const where = `Variant ${i + 1}`;
		if (!VARIANT_KEY_PATTERN.test(key)) {
			throw new ConflictError(
				`${where}: key "${key}" is invalid: use 1–40 letters, digits, ".", "_" or "-" (e.g. "control", "B")`,
				'variants',
			);
		}
		if (keys.has(key.toLowerCase())) throw new ConflictError(`${where}: key "${key}" is used twice; every variant needs its own key`, 'variants');
		keys.add(key.toLowerCase());
		if (typeof v.weight !== 'number' || !Number.isFinite(v.weight) || v.weight < 0) {
			throw new ConflictError(`${where} ("${key}"): weight must be a number of 0 or more, got ${String(v.weight)}`, 'variants');
		}
		if (v.version !== undefined && (!Number.isInteger(v.version) || v.version < 1)) {
			throw new ConflictError(`${where} ("${key}"): version must be a whole number of 1 or more, got ${String(v.version)}`, 'variants');
		}
		if (v.label !== undefined && v.version === undefined && !LABEL_PATTERN.test(v.label.trim())) {
			throw new ConflictError(`${where} ("${key}"): "${v.label}" is neither a version number nor a valid label`, 'variants');
		}
	});
	const controls = variants.filter((v) => v.isControl);
	if (controls.length !== 1) {
		throw new ConflictError(
			controls.length === 0
				? 'No variant is marked as the control: mark exactly one (usually the current production version)'
				: `${controls.length} variants are marked as the control (${controls.map((v) => `"${v.key}"`).join(', ')}): mark exactly one`,
			'variants',
		);
	}
	const totalWeight = variants.reduce((s, v) => s + v.weight, 0);
	if (!(totalWeight > 0)) throw new ConflictError('All variant weights are 0: at least the control needs a weight above 0', 'variants');
	if (!(controls[0].weight > 0)) {
		throw new ConflictError(`The control "${controls[0].key}" has weight 0: it needs traffic to compare against`, 'variants');
	}
	const primaryMetric = input.primaryMetric ?? 'good_rating_share';
	if (!PRIMARY_METRICS.includes(primaryMetric)) {
		throw new ConflictError(`Unknown primary metric "${String(primaryMetric)}" (use ${PRIMARY_METRICS.join(', ')})`, 'primaryMetric');
	}
	const minSamplePerVariant = input.minSamplePerVariant ?? 100;
	if (!Number.isInteger(minSamplePerVariant) || minSamplePerVariant < 1) {
		throw new ConflictError(`Minimum sample per variant must be a whole number of 1 or more, got ${String(minSamplePerVariant)}`, 'minSamplePerVariant');
	}
	const mode = input.mode ?? 'fixed';
	if (!CAMPAIGN_MODES.includes(mode)) throw new ConflictError(`Unknown mode "${String(mode)}" (use fixed or thompson)`, 'mode');
	const thompsonFloor = input.thompsonFloor ?? 0.05;
	const activeArms = variants.filter((v) => v.weight > 0).length;
	if (!(thompsonFloor >= 0) || (mode === 'thompson' && thompsonFloor * activeArms > 1 + 1e-12) || thompsonFloor >= 1) {
		throw new ConflictError(
			`Thompson floor must be between 0 and 1/${activeArms} (the number of variants with a weight), got ${String(thompsonFloor)}`,
			'thompsonFloor',
		);
	}
	const seed = input.seed?.trim() || randomBytes(12).toString('hex');
	return {
		name,
		description: input.description ?? '',
		variants: variants.map((v) => ({ ...v, key: v.key.trim() })),
		primaryMetric,
		minSamplePerVariant,
		mode,
		thompsonFloor,
		seed,
	};
}

export async function createCampaign(pool: Pool, input: CreateCampaignInput): Promise<Campaign> {
	const spec = validateCreate(input);
	try {
		return await withTransaction(pool, async (client) => {
			const { rows } = await client.query<{ id: string }>(
				`INSERT INTO campaigns (name, description, primary_metric, mode, thompson_floor, min_sample_per_variant, seed)
				 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
				[spec.name, spec.description, spec.primaryMetric, spec.mode, spec.thompsonFloor, spec.minSamplePerVariant, spec.seed],
			);
			const campaignId = rows[0].id;
			for (const [position, v] of spec.variants.entries()) {
				const where = `Variant ${position + 1} ("${v.key}")`;
				try {
					const template = await getTemplate(client, v.template);
					if (template.archived) throw new ConflictError(`template "${template.name}" is archived`, 'variants');
					const selector = v.version !== undefined ? { version: v.version } : { label: v.label?.trim() || 'production' };
					const { version, resolvedBy } = await resolveVersion(client, template, selector);
					await client.query(
						`INSERT INTO campaign_variants (campaign_id, key, position, template_id, version_id, label, weight, is_control)
						 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
						[campaignId, v.key, position, template.id, version.id, resolvedBy === 'label' ? (selector.label ?? null) : null, v.weight, v.isControl],
					);
				} catch (error) {
					if (error instanceof PromptLabError) throw new (error.constructor as typeof PromptLabError)(`${where}: ${error.message}`, 'variants');
					throw error;
				}
			}
			return getCampaign(client, { id: campaignId });
		});
	} catch (error) {
		const e = error as { code?: string; constraint?: string };
		if (e?.code === '23505' && e.constraint === 'campaigns_name_key') {
			throw new ConflictError(`A campaign named "${spec.name}" already exists; choose another name`, 'name');
		}
		throw error;
	}
}

// ───────────────────────────── lifecycle ─────────────────────────────

const TRANSITIONS: Record<'start' | 'pause' | 'complete', { from: CampaignStatus[]; to: CampaignStatus }> = {
	start: { from: ['draft', 'paused'], to: 'running' },
	pause: { from: ['running'], to: 'paused' },
	complete: { from: ['draft', 'running', 'paused'], to: 'completed' },
};

const PAST = { start: 'started', pause: 'paused', complete: 'completed' } as const;

async function transition(pool: Pool, ref: CampaignRef, action: keyof typeof TRANSITIONS): Promise<Campaign> {
	const rule = TRANSITIONS[action];
	return withTransaction(pool, async (client) => {
		const campaign = await getCampaign(client, ref, { forUpdate: true });
		if (campaign.status === rule.to) return campaign; // repeating an action is harmless
		if (!rule.from.includes(campaign.status)) {
			throw new ConflictError(
				campaign.status === 'completed'
					? `Campaign "${campaign.name}" is completed and cannot be ${action === 'start' ? 'restarted' : 'paused'}; create a new campaign instead`
					: `Campaign "${campaign.name}" is ${campaign.status}; only a ${rule.from.join(' or ')} campaign can be ${PAST[action]}`,
				'campaign',
			);
		}
		await client.query(
			`UPDATE campaigns SET status = $2, updated_at = now(),
				started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,
				completed_at = CASE WHEN $2 = 'completed' THEN now() ELSE completed_at END
			 WHERE id = $1`,
			[campaign.id, rule.to],
		);
		return getCampaign(client, { id: campaign.id });
	});
}

export const startCampaign = (pool: Pool, ref: CampaignRef): Promise<Campaign> => transition(pool, ref, 'start');
export const pauseCampaign = (pool: Pool, ref: CampaignRef): Promise<Campaign> => transition(pool, ref, 'pause');
export const completeCampaign = (pool: Pool, ref: CampaignRef): Promise<Campaign> => transition(pool, ref, 'complete');

// ───────────────────────────── assignment ─────────────────────────────

export interface Assignment {
	campaignId: string;
	campaignName: string;
	campaignStatus: CampaignStatus;
	unitId: string;
	variantId: string;
	variantKey: string;
	templateId: string;
	templateName: string;
	version: number;
	versionId: string;
	label: string | null;
	isControl: boolean;
	/** The unit was assigned by this call (false: an earlier assignment, or not persisted). */
	isNew: boolean;
	/** Whether the assignment is stored (false for paused/completed campaigns). */
	persisted: boolean;
	/** 'hash': split by weights; 'control'/'winner': the campaign is not running. */
	assignedBy: 'hash' | 'control' | 'winner';
}

export interface AssignOptions {
	/** Age after which a Thompson campaign recomputes its split (default THOMPSON_REFRESH_MS). */
	thompsonRefreshMs?: number;
}

interface AssignRow extends CampaignRow {
	assigned_variant_id: string | null;
	latest_weights: { id: string | number; weights: number[]; computed_at: string } | null;
}

function assignmentOf(campaign: Campaign, unitId: string, variant: CampaignVariant, extra: Pick<Assignment, 'isNew' | 'persisted' | 'assignedBy'>): Assignment {
	return {
		campaignId: campaign.id,
		campaignName: campaign.name,
		campaignStatus: campaign.status,
		unitId,
		variantId: variant.id,
		variantKey: variant.key,
		templateId: variant.templateId,
		templateName: variant.templateName,
		version: variant.version,
		versionId: variant.versionId,
		label: variant.label,
		isControl: variant.isControl,
		...extra,
	};
}

export function normaliseUnitId(unitId: unknown): string {
	const id = typeof unitId === 'number' ? String(unitId) : typeof unitId === 'string' ? unitId.trim() : '';
	if (!id) throw new ConflictError('A unit ID (user or client ID) is required to assign a variant', 'unitId');
	if (id.length > 500) throw new ConflictError('The unit ID must be at most 500 characters', 'unitId');
	return id;
}

/**
 * The variant for a unit. Running campaigns hash the unit onto the weights and persist the first
 * assignment (sticky, race-free); paused or completed campaigns answer with the winner (once
 * promoted) or the control without storing anything; a draft campaign is an error.
 */
export async function assignUnit(pool: Pool, ref: CampaignRef, rawUnitId: unknown, options: AssignOptions = {}): Promise<Assignment> {
	const unitId = normaliseUnitId(rawUnitId);
	const where = refCondition(ref);
	const { rows } = await pool.query<AssignRow>(
		`SELECT ${CAMPAIGN_COLUMNS},
			(SELECT a.variant_id FROM campaign_assignments a WHERE a.campaign_id = c.id AND a.unit_id = $2) AS assigned_variant_id,
			CASE WHEN c.mode = 'thompson' THEN (SELECT row_to_json(w) FROM (SELECT id, weights, computed_at FROM campaign_weights
				WHERE campaign_id = c.id ORDER BY id DESC LIMIT 1) w) END AS latest_weights
		 FROM campaigns c WHERE ${where.sql}`,
		[where.value, unitId],
	);
	if (rows.length === 0) throw new NotFoundError(`Campaign ${describeRef(ref)} not found`, 'campaign');
	const row = rows[0];
	const campaign = toCampaign(row);
	if (campaign.status === 'draft') {
		throw new ConflictError(`Campaign "${campaign.name}" is a draft: start it first (operation Start)`, 'campaign');
	}
	const control = campaign.variants.find((v) => v.isControl) as CampaignVariant;
	if (campaign.status !== 'running') {
		const winner = campaign.variants.find((v) => v.id === campaign.winnerVariantId);
		return assignmentOf(campaign, unitId, winner ?? control, { isNew: false, persisted: false, assignedBy: winner ? 'winner' : 'control' });
	}
	const byId = (id: string) => campaign.variants.find((v) => v.id === id) as CampaignVariant;
	if (row.assigned_variant_id) return assignmentOf(campaign, unitId, byId(row.assigned_variant_id), { isNew: false, persisted: true, assignedBy: 'hash' });

	let weights = campaign.variants.map((v) => v.weight);
	let weightsId: string | null = null;
	if (campaign.mode === 'thompson') {
		const current = await currentThompsonWeights(pool, campaign, row.latest_weights, options.thompsonRefreshMs ?? THOMPSON_REFRESH_MS);
		weights = current.weights;
		weightsId = current.id;
	}
	const index = assignVariant(campaign.seed, unitId, weights);
	const proposed = campaign.variants[index];
	const inserted = await pool.query<{ variant_id: string }>(
		`INSERT INTO campaign_assignments (campaign_id, unit_id, variant_id, weights_id) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (campaign_id, unit_id) DO NOTHING RETURNING variant_id`,
		[campaign.id, unitId, proposed.id, weightsId],
	);
	if (inserted.rows.length > 0) return assignmentOf(campaign, unitId, proposed, { isNew: true, persisted: true, assignedBy: 'hash' });
	// Another worker assigned the unit between our read and our insert: its row wins.
	const existing = await pool.query<{ variant_id: string }>(
		'SELECT variant_id FROM campaign_assignments WHERE campaign_id = $1 AND unit_id = $2',
		[campaign.id, unitId],
	);
	return assignmentOf(campaign, unitId, byId(existing.rows[0].variant_id), { isNew: false, persisted: true, assignedBy: 'hash' });
}

// ───────────────────────────── Thompson weights ─────────────────────────────

interface WeightsRow {
	id: string;
	weights: number[];
}

/**
 * The allocation in force. It lives in campaign_weights, so every worker uses the same split and
 * the SRM check knows which split each unit was drawn from. When it is older than `refreshMs`,
 * one worker (advisory try-lock) recomputes it; the others keep using the current one meanwhile.
 */
async function currentThompsonWeights(
	pool: Pool,
	campaign: Campaign,
	latest: AssignRow['latest_weights'],
	refreshMs: number,
): Promise<WeightsRow> {
	const fresh = latest && Date.now() - new Date(latest.computed_at).getTime() < refreshMs;
	if (latest && fresh) return { id: String(latest.id), weights: latest.weights.map(Number) };
	const recomputed = await refreshThompsonWeights(pool, campaign, refreshMs);
	if (recomputed) return recomputed;
	if (latest) return { id: String(latest.id), weights: latest.weights.map(Number) };
	// Another worker is writing the first allocation right now: wait for it.
	return (await refreshThompsonWeights(pool, campaign, refreshMs, true)) as WeightsRow;
}

export interface ArmAggregates {
	variantId: string;
	trials: number;
	successes: number;
}

/** The per-arm counts a Thompson allocation is computed from, matching the primary metric. */
async function armAggregates(db: Queryable, campaign: Campaign): Promise<ArmAggregates[]> {
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
		[campaign.id],
	);
	return rows.map((r) =>
		campaign.primaryMetric === 'success_rate'
			? { variantId: r.id, trials: Number(r.finished), successes: Number(r.succeeded) }
			: // mean_rating campaigns also explore on the good-rating share: a Beta posterior needs a proportion
				{ variantId: r.id, trials: Number(r.rated_units), successes: Math.min(Number(r.good_share_sum), Number(r.rated_units)) },
	);
}

/**
 * Allocation for the next period: during burn-in (an active arm below min(100, minimum sample))
 * the configured weights; afterwards P(arm is best) by Thompson sampling with the campaign's
 * floor. Variants with weight 0 stay at 0. Deterministic for a given history (seeded draws).
 */
export function computeThompsonAllocation(campaign: Pick<Campaign, 'variants' | 'thompsonFloor' | 'minSamplePerVariant' | 'seed'>, arms: ArmAggregates[], period: number): number[] {
	const configured = campaign.variants.map((v) => v.weight);
	const active = campaign.variants.map((v, i) => ({ i, weight: v.weight, arm: arms[i] })).filter((a) => a.weight > 0);
	const burnIn = Math.min(THOMPSON_BURN_IN, campaign.minSamplePerVariant);
	if (active.length < 2 || active.some((a) => a.arm.trials < burnIn)) {
		const total = configured.reduce((s, w) => s + w, 0);
		return configured.map((w) => w / total);
	}
	const shares = thompsonWeights(
		active.map((a) => ({ successes: a.arm.successes, trials: a.arm.trials })),
		{ floor: campaign.thompsonFloor, draws: THOMPSON_DRAWS, random: seededRandom(`${campaign.seed}:${period}`) },
	);
	const weights = configured.map(() => 0);
	active.forEach((a, k) => {
		weights[a.i] = shares[k];
	});
	return weights;
}

async function refreshThompsonWeights(pool: Pool, campaign: Campaign, refreshMs: number, wait = false): Promise<WeightsRow | null> {
	return withTransaction(pool, async (client) => {
		const lockKey = `n8n-nodes-promptlab:thompson:${campaign.id}`;
		if (wait) {
			await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
		} else {
			const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [lockKey]);
			if (!rows[0].locked) return null;
		}
		// Re-check under the lock: another worker may have just written a fresh allocation.
		const latest = await client.query<{ id: string; weights: number[]; fresh: boolean; periods: string }>(
			`SELECT id, weights, computed_at > now() - make_interval(secs => $2::float8 / 1000) AS fresh,
				(SELECT count(*) FROM campaign_weights WHERE campaign_id = $1) AS periods
			 FROM campaign_weights WHERE campaign_id = $1 ORDER BY id DESC LIMIT 1`,
			[campaign.id, refreshMs],
		);
		if (latest.rows[0]?.fresh) return { id: String(latest.rows[0].id), weights: latest.rows[0].weights.map(Number) };
		const arms = await armAggregates(client, campaign);
		const period = Number(latest.rows[0]?.periods ?? 0);
		const weights = computeThompsonAllocation(campaign, arms, period);
		const basis = Object.fromEntries(campaign.variants.map((v, i) => [v.key, { trials: arms[i].trials, successes: arms[i].successes }]));
		const { rows } = await client.query<{ id: string }>(
			'INSERT INTO campaign_weights (campaign_id, weights, basis) VALUES ($1, $2, $3) RETURNING id',
			[campaign.id, weights, JSON.stringify(basis)],
		);
		return { id: String(rows[0].id), weights };
	});
}

// ───────────────────────────── results ─────────────────────────────

export interface VariantResult {
	id: string;
	key: string;
	isControl: boolean;
	templateId: string;
	templateName: string;
	version: number;
	versionId: string;
	label: string | null;
	weight: number;
	units: number;
	expectedUnitShare: number;
	observedUnitShare: number | null;
	/** Executions started for the variant (any status). */
	executions: number;
	/** Finished executions (succeeded + failed): the sample of the success rate. */
	finishedExecutions: number;
	succeeded: number;
	failed: number;
	successRate: { value: number | null; ci: Interval | null };
	ratedUnits: number;
	/** Rated units / assigned units. */
	ratedShare: number | null;
	/** Mean over rated units of each unit's mean rating. */
	meanRating: { value: number | null; ci: Interval | null };
	/** Mean over rated units of each unit's share of ratings ≥ 4 (the default primary metric). */
	goodRatingShare: { value: number | null; ci: Interval | null };
	meanDurationMs: number | null;
	/** Per-rating descriptive totals (not used for any test). */
	ratings: { count: number; mean: number | null; goodShare: number | null };
	meetsMinimumSample: boolean;
	/** Primary metric vs the control (null for the control, or too little data). */
	vsControl: {
		metric: PrimaryMetric;
		difference: number;
		differenceCi: Interval;
		relativeLift: number | null;
		chanceToBeatControl: number;
		expectedLoss: number;
		pValue: number;
		adjustedPValue: number;
	} | null;
}

export interface CampaignResults {
	campaign: Omit<Campaign, 'variants'>;
	primaryMetric: PrimaryMetric;
	variants: VariantResult[];
	/** Sample-ratio-mismatch check on assigned units (alert when p < 0.001). */
	srm: SrmResult;
	/** The same on rated units: a mismatch there is a response-bias warning. */
	ratedUnitsSrm: SrmResult;
	decision: {
		status: DecisionStatus;
		winnerVariantId: string | null;
		winnerVariantKey: string | null;
		/** "keep running", "B wins", "no difference", "sample ratio mismatch". */
		summary: string;
		reasons: string[];
	};
	/** Expected unit share per variant used by the SRM check (time-weighted in Thompson mode). */
	expectedSplit: number[];
	analysis: CampaignAnalysis;
	computedAt: string;
}

export interface ResultsOptions {
	alpha?: number;
	ctwThreshold?: number;
	maxExpectedLoss?: number;
	horizonPerVariant?: number;
	sequentialTuningN?: number;
}

interface AggregateRow {
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
}

/**
 * The analyseCampaign inputs of a campaign, read from the aggregate tables only: units from
 * campaign_assignments (index on variant_id), per-unit rating sums from campaign_unit_stats (the
 * SQL of lib/stats/decision.ts), execution totals from campaign_variant_stats.
 */
export interface ExecutionTotals {
	executions: number;
	succeeded: number;
	failed: number;
}

export async function campaignAnalysisInputs(
	db: Queryable,
	campaign: Campaign,
): Promise<{ inputs: CampaignVariantInput[]; expectedSplit: number[]; totals: ExecutionTotals[] }> {
	const { rows } = await db.query<AggregateRow>(
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
		[campaign.id],
	);
	const inputs = rows.map((r, i): CampaignVariantInput => {
		const v = campaign.variants[i];
		return {
			id: v.id,
			key: v.key,
			isControl: v.isControl,
			weight: v.weight,
			units: Number(r.units),
			ratedUnits: Number(r.rated_units),
			goodShareSum: Number(r.good_share_sum),
			unitMeanRatingSum: Number(r.unit_mean_rating_sum),
			unitMeanRatingSumSq: Number(r.unit_mean_rating_sum_sq),
			// the success rate is over finished runs (succeeded + failed); queued, running or cancelled ones are not outcomes
			executions: Number(r.succeeded) + Number(r.failed),
			succeeded: Number(r.succeeded),
			durationMsSum: Number(r.duration_ms_sum),
			durationCount: Number(r.duration_count),
			ratingCount: Number(r.rating_count),
			ratingSum: Number(r.rating_sum),
			goodCount: Number(r.good_count),
		};
	});
	const totals = rows.map((r) => ({ executions: Number(r.executions), succeeded: Number(r.succeeded), failed: Number(r.failed) }));
	const totalWeight = campaign.variants.reduce((s, v) => s + v.weight, 0);
	let expectedSplit = campaign.variants.map((v) => v.weight / totalWeight);
	if (campaign.mode === 'thompson') expectedSplit = await thompsonExpectedSplit(db, campaign, inputs, expectedSplit);
	return { inputs, expectedSplit, totals };
}

/**
 * Expected units per variant in Thompson mode: Σ over allocation periods of the units assigned in
 * that period × that period's split (plus units without a period at the configured weights).
 */
async function thompsonExpectedSplit(db: Queryable, campaign: Campaign, inputs: CampaignVariantInput[], configured: number[]): Promise<number[]> {
	const { rows } = await db.query<{ id: string; weights: number[]; units: string }>(
		`SELECT w.id, w.weights, coalesce(p.units, 0) AS units
		 FROM campaign_weights w
		 LEFT JOIN (SELECT weights_id, count(*) AS units FROM campaign_assignments
		            WHERE campaign_id = $1 AND weights_id IS NOT NULL GROUP BY weights_id) p ON p.weights_id = w.id
		 WHERE w.campaign_id = $1`,
		[campaign.id],
	);
	const totalUnits = inputs.reduce((s, v) => s + v.units, 0);
	let withPeriod = 0;
	const expected = configured.map(() => 0);
	for (const row of rows) {
		const units = Number(row.units);
		withPeriod += units;
		const sum = row.weights.reduce((s, w) => s + Number(w), 0);
		row.weights.forEach((w, i) => {
			expected[i] += sum > 0 ? (units * Number(w)) / sum : 0;
		});
	}
	const rest = Math.max(0, totalUnits - withPeriod);
	configured.forEach((w, i) => {
		expected[i] += rest * w;
	});
	const total = expected.reduce((s, e) => s + e, 0);
	// Before any unit is assigned the latest allocation (or the configured one) is the expectation.
	if (!(total > 0)) return configured;
	return expected.map((e) => e / total);
}

function decisionSummary(status: DecisionStatus, winnerKey: string | null): string {
	switch (status) {
		case 'winner':
			return `${winnerKey} wins`;
		case 'no_difference':
			return 'no difference';
		case 'srm_alert':
			return 'sample ratio mismatch: results cannot be trusted';
		default:
			return 'keep running';
	}
}

export function buildResults(campaign: Campaign, analysis: CampaignAnalysis, expectedSplit: number[], totals: ExecutionTotals[]): CampaignResults {
	const primary = analysis.primaryMetric;
	const variants = analysis.variants.map((a, i): VariantResult => {
		const v = campaign.variants[i];
		const cmp = a.metrics[primary].vsControl;
		return {
			id: v.id,
			key: v.key,
			isControl: v.isControl,
			templateId: v.templateId,
			templateName: v.templateName,
			version: v.version,
			versionId: v.versionId,
			label: v.label,
			weight: v.weight,
			units: a.units,
			expectedUnitShare: expectedSplit[i],
			observedUnitShare: a.observedUnitShare,
			executions: totals[i].executions,
			finishedExecutions: a.metrics.success_rate.sampleSize,
			succeeded: totals[i].succeeded,
			failed: totals[i].failed,
			successRate: { value: a.metrics.success_rate.value, ci: a.metrics.success_rate.ci },
			ratedUnits: a.ratedUnits,
			ratedShare: a.ratedRate,
			meanRating: { value: a.metrics.mean_rating.value, ci: a.metrics.mean_rating.ci },
			goodRatingShare: { value: a.metrics.good_rating_share.value, ci: a.metrics.good_rating_share.ci },
			meanDurationMs: a.meanDurationMs,
			ratings: { count: a.perRating.count, mean: a.perRating.meanRating, goodShare: a.perRating.goodShare },
			meetsMinimumSample: a.meetsMinimumSample,
			vsControl: cmp
				? {
						metric: primary,
						difference: cmp.difference,
						differenceCi: cmp.differenceCi,
						relativeLift: cmp.relativeLift,
						chanceToBeatControl: cmp.chanceToBeatControl,
						expectedLoss: cmp.expectedLoss,
						pValue: cmp.pValue,
						adjustedPValue: cmp.adjustedPValue,
					}
				: null,
		};
	});
	const winnerId = analysis.decision.winnerVariantId ?? null;
	const winnerKey = campaign.variants.find((v) => v.id === winnerId)?.key ?? null;
	const { variants: _variants, ...summary } = campaign;
	return {
		campaign: summary,
		primaryMetric: primary,
		variants,
		srm: analysis.srm,
		ratedUnitsSrm: analysis.ratedUnitsSrm,
		decision: {
			status: analysis.decision.status,
			winnerVariantId: winnerId,
			winnerVariantKey: winnerKey,
			summary: decisionSummary(analysis.decision.status, winnerKey),
			reasons: analysis.decision.reasons,
		},
		expectedSplit,
		analysis,
		computedAt: new Date().toISOString(),
	};
}

export async function getCampaignResults(db: Queryable, ref: CampaignRef, options: ResultsOptions = {}): Promise<CampaignResults> {
	const campaign = await getCampaign(db, ref);
	return resultsFor(db, campaign, options);
}

async function resultsFor(db: Queryable, campaign: Campaign, options: ResultsOptions): Promise<CampaignResults> {
	const { inputs, expectedSplit, totals } = await campaignAnalysisInputs(db, campaign);
	const analysis = analyseCampaign({
		variants: inputs,
		primaryMetric: campaign.primaryMetric,
		minSamplePerVariant: campaign.minSamplePerVariant,
		srmWeights: expectedSplit,
		...options,
	});
	return buildResults(campaign, analysis, expectedSplit, totals);
}

// ───────────────────────────── promotion ─────────────────────────────

export interface PromoteOptions {
	/** Human override: promote this variant key whatever the decision says. */
	forceVariantKey?: string;
	/** Label to move (default production). */
	label?: string;
	movedBy?: string | null;
	results?: ResultsOptions;
}

export interface Promotion {
	campaign: Campaign;
	winner: CampaignVariant;
	forced: boolean;
	decision: CampaignResults['decision'];
	labelMove: { templateId: string; templateName: string; label: string; fromVersion: number | null; toVersion: number; labels: Record<string, number> };
}

/**
 * Moves the winner's template label (production) to the winning version, records the winner and
 * completes the campaign. Refuses unless the decision names a winner, except with a forced variant
 * key (a human override). The campaign row stays locked until the label has moved, so two
 * concurrent promotions cannot both succeed.
 */
export async function promoteCampaign(pool: Pool, ref: CampaignRef, options: PromoteOptions = {}): Promise<Promotion> {
	const label = options.label?.trim() || 'production';
	if (!LABEL_PATTERN.test(label)) throw new ConflictError(`Invalid label "${label}"`, 'label');
	return withTransaction(pool, async (client: PoolClient) => {
		const campaign = await getCampaign(client, ref, { forUpdate: true });
		if (campaign.winnerVariantId) {
			throw new ConflictError(`Campaign "${campaign.name}" was already promoted (winner: ${campaign.winnerVariantKey})`, 'campaign');
		}
		if (campaign.status === 'draft') throw new ConflictError(`Campaign "${campaign.name}" is a draft and has no results to promote`, 'campaign');
		const results = await resultsFor(client, campaign, options.results ?? {});
		const forceKey = options.forceVariantKey?.trim();
		let winner: CampaignVariant | undefined;
		if (forceKey) {
			winner = campaign.variants.find((v) => v.key.toLowerCase() === forceKey.toLowerCase());
			if (!winner) {
				throw new NotFoundError(
					`Campaign "${campaign.name}" has no variant "${forceKey}" (variants: ${campaign.variants.map((v) => v.key).join(', ')})`,
					'forceVariant',
				);
			}
		} else {
			if (results.decision.status !== 'winner') {
				throw new ConflictError(
					`Campaign "${campaign.name}" has no winner to promote (decision: ${results.decision.summary}; ${results.decision.reasons[0] ?? ''}). ` +
						'Keep it running, or set "Force Variant" to promote a variant by hand.',
					'forceVariant',
				);
			}
			winner = campaign.variants.find((v) => v.id === results.decision.winnerVariantId) as CampaignVariant;
		}
		const move: LabelMove = await setLabel(pool, { id: winner.templateId }, label, winner.version, {
			movedBy: options.movedBy ?? null,
			reason: `campaign ${campaign.name} winner${forceKey ? ' (forced)' : ''}`,
		});
		await client.query(
			`UPDATE campaigns SET winner_variant_id = $2, status = 'completed', completed_at = coalesce(completed_at, now()), updated_at = now()
			 WHERE id = $1`,
			[campaign.id, winner.id],
		);
		return {
			campaign: await getCampaign(client, { id: campaign.id }),
			winner,
			forced: Boolean(forceKey),
			decision: results.decision,
			labelMove: {
				templateId: move.template.id,
				templateName: move.template.name,
				label: move.label,
				fromVersion: move.fromVersion,
				toVersion: move.toVersion,
				labels: move.template.labels,
			},
		};
	});
}
