/**
 * Reports: the weekly report (use, ratings, failures, generation time) and a minimal summary of
 * running campaigns (full campaign results live in lib/db/campaigns.ts).
 *
 * The window is [from, to) on created_at: executions by when they were submitted, ratings by when
 * they were first given (a later re-rating stays in the week of the first). Every query is a range
 * scan of one created_at index (executions_created, executions_failures, feedback_created) grouped
 * per version, so the cost follows the size of the window, not of the tables.
 */
import { popularityScore } from '../stats';
import { ConflictError } from './errors';
import type { Queryable } from './pool';

export interface WeeklyReportOptions {
	from: Date | string;
	to: Date | string;
	/** Length of the top lists and of the error list. Default 10. */
	limit?: number;
	/** Pseudo-ratings at the window's mean rating in the Bayesian average (m). Default 10. */
	priorWeight?: number;
	/** Maximum number of per-version rows (most used first). Default 100. */
	versionLimit?: number;
}

export interface ReportUsage {
	executions: number;
	succeeded: number;
	/** failed + lost */
	failed: number;
	cancelled: number;
	/** Not finished yet (queued or running). */
	inProgress: number;
	/** failed / (succeeded + failed); null when nothing finished. */
	failureRate: number | null;
	/** Mean duration of successful runs. */
	avgDurationMs: number | null;
	p50DurationMs: number | null;
	p95DurationMs: number | null;
	ratingCount: number;
	/** Raw mean rating, for reading; rank by bayesianScore. */
	meanRating: number | null;
	/** Share of ratings ≥ 4. */
	goodShare: number | null;
	/** Bayesian average on the 1–5 scale (lib/stats popularityScore), shrunk toward the window mean. */
	bayesianScore: number | null;
}

export interface ReportTemplateRow extends ReportUsage {
	templateId: string;
	templateName: string;
	kind: string;
	category: string | null;
}

export interface ReportVersionRow extends ReportTemplateRow {
	versionId: string | null;
	version: number | null;
}

export interface ReportError {
	message: string;
	count: number;
	lastSeenAt: string;
	templates: string[];
}

export interface WeeklyReport {
	from: string;
	to: string;
	totals: Omit<ReportUsage, 'bayesianScore'>;
	scoring: { method: 'bayesian_average'; priorMean: number; priorWeight: number };
	topByUse: ReportTemplateRow[];
	topByRating: ReportTemplateRow[];
	failures: { count: number; rate: number | null; topErrors: ReportError[] };
	versions: ReportVersionRow[];
}

type Num = string | number | null;

interface ExecutionAggRow {
	template_id: string | null;
	version_id: string | null;
	all_rows: boolean; // the grand-total grouping set
	executions: Num;
	succeeded: Num;
	failed: Num;
	cancelled: Num;
	duration_sum: Num;
	duration_count: Num;
	p50: Num;
	p95: Num;
}

interface RatingAggRow {
	template_id: string | null;
	version_id: string | null;
	all_rows: boolean;
	rating_count: Num;
	rating_sum: Num;
	good_count: Num;
}

interface Accumulator {
	executions: number;
	succeeded: number;
	failed: number;
	cancelled: number;
	durationSum: number;
	durationCount: number;
	p50: number | null;
	p95: number | null;
	ratingCount: number;
	ratingSum: number;
	goodCount: number;
}

const num = (v: Num | undefined): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: Num | undefined): number | null => (v === null || v === undefined ? null : Number(v));

/** Percentiles are interpolated in floating point; a microsecond is more than a report needs. */
const roundMs = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);

function emptyAccumulator(): Accumulator {
	return { executions: 0, succeeded: 0, failed: 0, cancelled: 0, durationSum: 0, durationCount: 0, p50: null, p95: null, ratingCount: 0, ratingSum: 0, goodCount: 0 };
}

function toDate(value: Date | string, field: string): Date {
	const date = value instanceof Date ? value : new Date(value);
	if (Number.isNaN(date.getTime())) throw new ConflictError(`${field} is not a valid date (got ${String(value)})`, field);
	return date;
}

function positiveInteger(value: number | undefined, fallback: number, field: string): number {
	if (value === undefined) return fallback;
	if (!Number.isInteger(value) || value < 1 || value > 1000) {
		throw new ConflictError(`${field} must be a whole number from 1 to 1000 (got ${String(value)})`, field);
	}
	return value;
}

function usage(a: Accumulator, prior: { priorMean: number; priorWeight: number }): ReportUsage {
	const finished = a.succeeded + a.failed;
	return {
		executions: a.executions,
		succeeded: a.succeeded,
		failed: a.failed,
		cancelled: a.cancelled,
		inProgress: a.executions - a.succeeded - a.failed - a.cancelled,
		failureRate: finished > 0 ? a.failed / finished : null,
		avgDurationMs: a.durationCount > 0 ? a.durationSum / a.durationCount : null,
		p50DurationMs: a.p50,
		p95DurationMs: a.p95,
		ratingCount: a.ratingCount,
		meanRating: a.ratingCount > 0 ? a.ratingSum / a.ratingCount : null,
		goodShare: a.ratingCount > 0 ? a.goodCount / a.ratingCount : null,
		bayesianScore:
			a.ratingCount > 0
				? popularityScore({ ratingCount: a.ratingCount, ratingSum: a.ratingSum }, { method: 'bayesian_average', ...prior })
				: null,
	};
}

export async function weeklyReport(db: Queryable, options: WeeklyReportOptions): Promise<WeeklyReport> {
	const from = toDate(options.from, 'from');
	const to = toDate(options.to, 'to');
	if (from >= to) throw new ConflictError(`The report window is empty: from (${from.toISOString()}) must be before to (${to.toISOString()})`, 'from');
	const limit = positiveInteger(options.limit, 10, 'limit');
	const versionLimit = positiveInteger(options.versionLimit, 100, 'versionLimit');
	const priorWeight = options.priorWeight ?? 10;
	if (!(priorWeight > 0)) throw new ConflictError(`priorWeight must be > 0 (got ${String(priorWeight)})`, 'priorWeight');

	const [executionRows, ratingRows, errorRows] = await Promise.all([
		db.query<ExecutionAggRow>(
			`SELECT template_id, version_id, GROUPING(template_id, version_id) = 3 AS all_rows,
				count(*) AS executions,
				count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
				count(*) FILTER (WHERE status IN ('failed', 'lost')) AS failed,
				count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
				sum(duration_ms) FILTER (WHERE status = 'succeeded') AS duration_sum,
				count(duration_ms) FILTER (WHERE status = 'succeeded') AS duration_count,
				percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status = 'succeeded') AS p50,
				percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status = 'succeeded') AS p95
			 FROM executions WHERE created_at >= $1 AND created_at < $2
			 GROUP BY GROUPING SETS ((template_id, version_id), ())`,
			[from, to],
		),
		db.query<RatingAggRow>(
			`SELECT template_id, version_id, GROUPING(template_id, version_id) = 3 AS all_rows,
				count(*) AS rating_count, sum(rating) AS rating_sum, count(*) FILTER (WHERE rating >= 4) AS good_count
			 FROM feedback WHERE created_at >= $1 AND created_at < $2
			 GROUP BY GROUPING SETS ((template_id, version_id), ())`,
			[from, to],
		),
		db.query<{ message: string; count: Num; last_seen_at: Date; templates: string[] | null }>(
			`SELECT left(coalesce(e.error->>'message', CASE WHEN e.status = 'lost' THEN 'lost: ComfyUI has no record of the prompt' END,
			            e.error::text, '(no error message)'), 500) AS message,
				count(*) AS count, max(e.created_at) AS last_seen_at,
				array_remove(array_agg(DISTINCT t.name), NULL) AS templates
			 FROM executions e LEFT JOIN templates t ON t.id = e.template_id
			 WHERE e.created_at >= $1 AND e.created_at < $2 AND e.status IN ('failed', 'lost')
			 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT $3`,
			[from, to, limit],
		),
	]);

	// Per (template, version) accumulators, keyed "templateId/versionId".
	const perVersion = new Map<string, { templateId: string | null; versionId: string | null; acc: Accumulator }>();
	const total = emptyAccumulator();
	const slot = (templateId: string | null, versionId: string | null) => {
		const key = `${templateId ?? ''}/${versionId ?? ''}`;
		let entry = perVersion.get(key);
		if (!entry) {
			entry = { templateId, versionId: versionId === null ? null : String(versionId), acc: emptyAccumulator() };
			perVersion.set(key, entry);
		}
		return entry.acc;
	};
	for (const r of executionRows.rows) {
		const acc = r.all_rows ? total : slot(r.template_id, r.version_id);
		acc.executions = num(r.executions);
		acc.succeeded = num(r.succeeded);
		acc.failed = num(r.failed);
		acc.cancelled = num(r.cancelled);
		acc.durationSum = num(r.duration_sum);
		acc.durationCount = num(r.duration_count);
		acc.p50 = roundMs(numOrNull(r.p50));
		acc.p95 = roundMs(numOrNull(r.p95));
	}
	for (const r of ratingRows.rows) {
		const acc = r.all_rows ? total : slot(r.template_id, r.version_id);
		acc.ratingCount = num(r.rating_count);
		acc.ratingSum = num(r.rating_sum);
		acc.goodCount = num(r.good_count);
	}
	const prior = { priorMean: total.ratingCount > 0 ? total.ratingSum / total.ratingCount : 3, priorWeight };

	// Names of the templates and versions that had activity (executions without a template are only in the totals).
	const active = [...perVersion.values()].filter((e) => e.templateId !== null);
	const templateIds = [...new Set(active.map((e) => e.templateId as string))];
	const versionIds = [...new Set(active.map((e) => e.versionId).filter((v): v is string => v !== null))];
	const [templates, versions] = await Promise.all([
		db.query<{ id: string; name: string; kind: string; category: string | null }>(
			'SELECT id, name, kind, category FROM templates WHERE id = ANY($1::uuid[])',
			[templateIds],
		),
		db.query<{ id: string; version: number }>('SELECT id, version FROM template_versions WHERE id = ANY($1::bigint[])', [versionIds]),
	]);
	const templateById = new Map(templates.rows.map((t) => [t.id, t]));
	const versionNumber = new Map(versions.rows.map((v) => [String(v.id), v.version]));

	const perTemplate = new Map<string, Accumulator>();
	const versionRows: ReportVersionRow[] = [];
	for (const entry of active) {
		const template = templateById.get(entry.templateId as string);
		if (!template) continue; // deleted meanwhile
		const t = perTemplate.get(template.id) ?? emptyAccumulator();
		const a = entry.acc;
		t.executions += a.executions;
		t.succeeded += a.succeeded;
		t.failed += a.failed;
		t.cancelled += a.cancelled;
		t.durationSum += a.durationSum;
		t.durationCount += a.durationCount;
		t.ratingCount += a.ratingCount;
		t.ratingSum += a.ratingSum;
		t.goodCount += a.goodCount;
		perTemplate.set(template.id, t);
		versionRows.push({
			templateId: template.id,
			templateName: template.name,
			kind: template.kind,
			category: template.category,
			versionId: entry.versionId,
			version: entry.versionId === null ? null : versionNumber.get(entry.versionId) ?? null,
			...usage(a, prior),
		});
	}
	const templateRows: ReportTemplateRow[] = [...perTemplate.entries()].map(([id, acc]) => {
		const template = templateById.get(id)!;
		// Percentiles do not add up across versions; per template they are left out.
		return { templateId: id, templateName: template.name, kind: template.kind, category: template.category, ...usage(acc, prior) };
	});
	const byName = (a: { templateName: string }, b: { templateName: string }) => a.templateName.localeCompare(b.templateName);
	const topByUse = templateRows
		.filter((t) => t.executions > 0)
		.sort((a, b) => b.executions - a.executions || b.succeeded - a.succeeded || byName(a, b))
		.slice(0, limit);
	const topByRating = templateRows
		.filter((t) => t.ratingCount > 0)
		.sort((a, b) => (b.bayesianScore ?? 0) - (a.bayesianScore ?? 0) || b.ratingCount - a.ratingCount || byName(a, b))
		.slice(0, limit);
	versionRows.sort(
		(a, b) => b.executions - a.executions || b.ratingCount - a.ratingCount || byName(a, b) || (a.version ?? 0) - (b.version ?? 0),
	);

	const totals = usage(total, prior);
	const { bayesianScore: _score, ...totalsWithoutScore } = totals;
	return {
		from: from.toISOString(),
		to: to.toISOString(),
		totals: totalsWithoutScore,
		scoring: { method: 'bayesian_average', ...prior },
		topByUse,
		topByRating,
		failures: {
			count: total.failed,
			rate: totals.failureRate,
			topErrors: errorRows.rows.map((r) => ({
				message: r.message,
				count: num(r.count),
				lastSeenAt: r.last_seen_at.toISOString(),
				templates: r.templates ?? [],
			})),
		},
		versions: versionRows.slice(0, versionLimit),
	};
}

export interface RunningCampaign {
	id: string;
	name: string;
	status: string;
	mode: string;
	primaryMetric: string;
	startedAt: string | null;
	units: number;
	variants: Array<{ variantId: string; key: string; isControl: boolean; weight: number; templateId: string; versionId: string; units: number }>;
}

/** Running campaigns with their units (assigned users) per variant. */
export async function runningCampaigns(db: Queryable): Promise<RunningCampaign[]> {
	const { rows } = await db.query<{
		id: string;
		name: string;
		status: string;
		mode: string;
		primary_metric: string;
		started_at: Date | null;
		variants: Array<{ variantId: string; key: string; isControl: boolean; weight: number; templateId: string; versionId: string | number; units: number }>;
	}>(
		`SELECT c.id, c.name, c.status, c.mode, c.primary_metric, c.started_at,
			coalesce(json_agg(json_build_object('variantId', v.id, 'key', v.key, 'isControl', v.is_control, 'weight', v.weight,
				'templateId', v.template_id, 'versionId', v.version_id, 'units', a.units) ORDER BY v.position)
				FILTER (WHERE v.id IS NOT NULL), '[]') AS variants
		 FROM campaigns c
		 LEFT JOIN campaign_variants v ON v.campaign_id = c.id
		 LEFT JOIN LATERAL (SELECT count(*)::int AS units FROM campaign_assignments ca WHERE ca.variant_id = v.id) a ON true
		 WHERE c.status = 'running'
		 GROUP BY c.id ORDER BY c.started_at NULLS LAST, c.name`,
	);
	return rows.map((r) => {
		const variants = r.variants.map((v) => ({ ...v, versionId: String(v.versionId), units: Number(v.units) }));
		return {
			id: r.id,
			name: r.name,
			status: r.status,
			mode: r.mode,
			primaryMetric: r.primary_metric,
			startedAt: r.started_at ? r.started_at.toISOString() : null,
			units: variants.reduce((sum, v) => sum + v.units, 0),
			variants,
		};
	});
}
