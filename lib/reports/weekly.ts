/**
 * The weekly report: use, ratings, failures and generation time per template and version over a
 * window [from, to), from the aggregates of lib/db/reports.ts. Templates are ranked by a Bayesian
 * average (lib/stats popularityScore) shrunk toward the window's mean rating, never by a raw mean.
 */
import { z } from 'zod';

import type { Queryable } from '../db/pool';
import { templateAndVersionNames, windowAggregates, type Num } from '../db/reports';
import { popularityScore } from '../stats';
import { defineInput, issueCode } from '../validation';
import { completedCampaigns, type ReportCampaign } from './campaigns';

export { completedCampaigns, runningCampaigns, type ReportCampaign, type RunningCampaign } from './campaigns';

/** What a failure without an error message is listed as. */
const FALLBACK_MESSAGES = { lost: 'lost: ComfyUI has no record of the prompt', none: '(no error message)' };

/** A Date, an ISO date(-time) string or epoch milliseconds. */
function dateSchema(label: string) {
	return z.unknown().transform((value, ctx): Date => {
		if (value === undefined || value === null || value === '') {
			ctx.addIssue({ code: 'custom', message: `${label} is required`, ...issueCode('field_required') });
			return z.NEVER;
		}
		const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : new Date(NaN);
		if (Number.isNaN(date.getTime())) {
			ctx.addIssue({ code: 'custom', message: `${label} must be a date, e.g. 2026-11-16 (got ${String(value)})`, ...issueCode('invalid_input') });
			return z.NEVER;
		}
		return date;
	});
}

function listLength(label: string, fallback: number) {
	return z
		.number({ invalid_type_error: `${label} must be a number` })
		.int(`${label} must be a whole number`)
		.min(1, `${label} must be 1 or more`)
		.max(1000, `${label} must be at most 1000`)
		.default(fallback);
}

export const weeklyReportInput = defineInput(
	z
		.object({
			from: dateSchema('From'),
			/** End of the window (exclusive). */
			to: dateSchema('To'),
			/** Length of the top lists and of the error list. Default 10. */
			limit: listLength('List length', 10),
			/** Pseudo-ratings at the window's mean rating in the Bayesian average (m). Default 10. */
			priorWeight: z.number({ invalid_type_error: 'Prior weight must be a number' }).finite().positive('Prior weight must be above 0').default(10),
			/** Maximum number of per-version rows (most used first). Default 100. */
			versionLimit: listLength('Version rows', 100),
		})
		.superRefine((v, ctx) => {
			if (v.from >= v.to) {
				ctx.addIssue({
					code: 'custom',
					path: ['from'],
					message: `The report window is empty: from (${v.from.toISOString()}) must be before to (${v.to.toISOString()})`,
					...issueCode('invalid_input'),
				});
			}
		}),
);

export type WeeklyReportOptions = z.input<typeof weeklyReportInput.schema>;

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
	/** Campaigns completed within the window, with their final decision and winner (as their A/B results show them). */
	completedCampaigns: ReportCampaign[];
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

export async function weeklyReport(db: Queryable, input: WeeklyReportOptions): Promise<WeeklyReport> {
	const { from, to, limit, versionLimit, priorWeight } = weeklyReportInput.parse(input);
	const [aggregates, completed] = await Promise.all([
		windowAggregates(db, { from, to, errorLimit: limit, fallbackMessages: FALLBACK_MESSAGES }),
		completedCampaigns(db, { from, to }),
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
	for (const r of aggregates.executions) {
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
	for (const r of aggregates.ratings) {
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
	const { templates, versions } = await templateAndVersionNames(db, templateIds, versionIds);
	const templateById = new Map(templates.map((t) => [t.id, t]));
	const versionNumber = new Map(versions.map((v) => [String(v.id), v.version]));

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
			topErrors: aggregates.errors.map((r) => ({
				message: r.message,
				count: num(r.count),
				lastSeenAt: r.last_seen_at.toISOString(),
				templates: r.templates ?? [],
			})),
		},
		versions: versionRows.slice(0, versionLimit),
		completedCampaigns: completed,
	};
}
