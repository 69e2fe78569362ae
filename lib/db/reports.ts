/**
 * Reports repository: the aggregates behind the weekly report (lib/reports/weekly.ts builds the
 * report from them, lib/reports/html.ts renders it) and the campaigns of its campaign section.
 *
 * The window is [from, to) on created_at: executions by when they were submitted, ratings by when
 * they were first given (a later re-rating stays in the week of the first). Every query is a range
 * scan of one created_at index (executions_created, executions_failures, feedback_created) grouped
 * per version, so the cost follows the size of the window, not of the tables.
 */
import type { Queryable } from './pool';

export type Num = string | number | null;

export interface ExecutionAggRow {
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

export interface RatingAggRow {
	template_id: string | null;
	version_id: string | null;
	all_rows: boolean;
	rating_count: Num;
	rating_sum: Num;
	good_count: Num;
}

export interface ErrorAggRow {
	message: string;
	count: Num;
	last_seen_at: Date;
	templates: string[] | null;
}

export interface WindowAggregates {
	/** Per (template, version), plus one grand-total row (all_rows). */
	executions: ExecutionAggRow[];
	ratings: RatingAggRow[];
	/** The most frequent failure messages, most frequent first. */
	errors: ErrorAggRow[];
}

/**
 * Executions, ratings and failures of the window [from, to). A failure without a message is
 * grouped under `fallbackMessages` (lost runs have no error of their own).
 */
export async function windowAggregates(
	db: Queryable,
	window: { from: Date; to: Date; errorLimit: number; fallbackMessages: { lost: string; none: string } },
): Promise<WindowAggregates> {
	const { from, to } = window;
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
		db.query<ErrorAggRow>(
			`SELECT left(coalesce(e.error->>'message', CASE WHEN e.status = 'lost' THEN $4 END, e.error::text, $5), 500) AS message,
				count(*) AS count, max(e.created_at) AS last_seen_at,
				array_remove(array_agg(DISTINCT t.name), NULL) AS templates
			 FROM executions e LEFT JOIN templates t ON t.id = e.template_id
			 WHERE e.created_at >= $1 AND e.created_at < $2 AND e.status IN ('failed', 'lost')
			 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT $3`,
			[from, to, window.errorLimit, window.fallbackMessages.lost, window.fallbackMessages.none],
		),
	]);

	return { executions: executionRows.rows, ratings: ratingRows.rows, errors: errorRows.rows };
}

export interface TemplateNameRow {
	id: string;
	name: string;
	kind: string;
	category: string | null;
}

/** Names of templates and version numbers, for the ids that had activity. */
export async function templateAndVersionNames(
	db: Queryable,
	templateIds: string[],
	versionIds: string[],
): Promise<{ templates: TemplateNameRow[]; versions: Array<{ id: string; version: number }> }> {
	const [templates, versions] = await Promise.all([
		db.query<TemplateNameRow>(
			'SELECT id, name, kind, category FROM templates WHERE id = ANY($1::uuid[])',
			[templateIds],
		),
		db.query<{ id: string; version: number }>('SELECT id, version FROM template_versions WHERE id = ANY($1::bigint[])', [versionIds]),
	]);
	return { templates: templates.rows, versions: versions.rows };
}

/** A campaign of the report's campaign section with its units (assigned users) per variant. */
export interface CampaignRow {
	id: string;
	name: string;
	status: string;
	mode: string;
	primaryMetric: string;
	startedAt: string | null;
	completedAt: string | null;
	units: number;
	variants: Array<{ variantId: string; key: string; isControl: boolean; weight: number; templateId: string; versionId: string; units: number }>;
}

/** Which campaigns: those running now, or those completed within [from, to). */
export type CampaignRowFilter = { running: true } | { completedFrom: Date; completedTo: Date };

export async function campaignRows(db: Queryable, filter: CampaignRowFilter): Promise<CampaignRow[]> {
	const running = 'running' in filter;
	const { rows } = await db.query<{
		id: string;
		name: string;
		status: string;
		mode: string;
		primary_metric: string;
		started_at: Date | null;
		completed_at: Date | null;
		variants: Array<{ variantId: string; key: string; isControl: boolean; weight: number; templateId: string; versionId: string | number; units: number }>;
	}>(
		`SELECT c.id, c.name, c.status, c.mode, c.primary_metric, c.started_at, c.completed_at,
			coalesce(json_agg(json_build_object('variantId', v.id, 'key', v.key, 'isControl', v.is_control, 'weight', v.weight,
				'templateId', v.template_id, 'versionId', v.version_id, 'units', a.units) ORDER BY v.position)
				FILTER (WHERE v.id IS NOT NULL), '[]') AS variants
		 FROM campaigns c
		 LEFT JOIN campaign_variants v ON v.campaign_id = c.id
		 LEFT JOIN LATERAL (SELECT count(*)::int AS units FROM campaign_assignments ca WHERE ca.variant_id = v.id) a ON true
		 WHERE ${running ? "c.status = 'running'" : "c.status = 'completed' AND c.completed_at >= $1 AND c.completed_at < $2"}
		 GROUP BY c.id ORDER BY ${running ? 'c.started_at' : 'c.completed_at'} NULLS LAST, c.name`,
		running ? [] : [filter.completedFrom, filter.completedTo],
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
			completedAt: r.completed_at ? r.completed_at.toISOString() : null,
			units: variants.reduce((sum, v) => sum + v.units, 0),
			variants,
		};
	});
}
