/**
 * The weekly report as a self-contained HTML e-mail: tables plus a bar chart drawn with table
 * cells and inline styles, because mail clients strip <script>, <style> blocks and often SVG.
 */
import type { RunningCampaign, WeeklyReport } from './weekly';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
	return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const fmt = {
	int: (n: number | null) => (n === null ? '–' : Math.round(n).toLocaleString('en-US')),
	pct: (n: number | null) => (n === null ? '–' : `${(n * 100).toFixed(1)} %`),
	rating: (n: number | null) => (n === null ? '–' : n.toFixed(2)),
	seconds: (ms: number | null) => (ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`),
	date: (iso: string) => iso.slice(0, 10),
};

const CELL = 'padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left;font-size:13px';
const HEAD = `${CELL};background:#f3f4f6;font-weight:600`;

function table(headers: string[], rows: string[][]): string {
	if (rows.length === 0) return '<p style="color:#6b7280;font-size:13px">Nothing in this period.</p>';
	const head = headers.map((h) => `<th style="${HEAD}">${escapeHtml(h)}</th>`).join('');
	const body = rows
		.map((r) => `<tr>${r.map((c) => `<td style="${CELL}">${c}</td>`).join('')}</tr>`)
		.join('');
	return `<table cellspacing="0" cellpadding="0" style="border-collapse:collapse;width:100%">${`<tr>${head}</tr>`}${body}</table>`;
}

/** Horizontal bars: one row per label, bar width proportional to the value. */
export function barChart(title: string, bars: Array<{ label: string; value: number; text: string }>): string {
	if (bars.length === 0) return '';
	const max = Math.max(...bars.map((b) => b.value), 1e-9);
	const rows = bars
		.map((b) => {
			const width = Math.max(1, Math.round((b.value / max) * 100));
			return `<tr><td style="${CELL};width:35%">${escapeHtml(b.label)}</td><td style="${CELL}">
<table cellspacing="0" cellpadding="0" style="width:100%"><tr>
<td style="background:#6d28d9;height:14px;width:${width}%"></td><td style="width:${100 - width}%"></td>
</tr></table></td><td style="${CELL};width:15%">${escapeHtml(b.text)}</td></tr>`;
		})
		.join('');
	return `<h3 style="font-size:15px;margin:16px 0 6px">${escapeHtml(title)}</h3>
<table cellspacing="0" cellpadding="0" style="border-collapse:collapse;width:100%" data-chart="${escapeHtml(title)}">${rows}</table>`;
}

export function renderWeeklyReportHtml(report: WeeklyReport, campaigns: RunningCampaign[], title = 'PromptLab weekly report'): string {
	const t = report.totals;
	const summary = table(
		['Executions', 'Succeeded', 'Failed', 'Failure rate', 'Avg generation time', 'Ratings', 'Mean rating', 'Ratings ≥ 4'],
		[[fmt.int(t.executions), fmt.int(t.succeeded), fmt.int(t.failed), fmt.pct(t.failureRate), fmt.seconds(t.avgDurationMs),
			fmt.int(t.ratingCount), fmt.rating(t.meanRating), fmt.pct(t.goodShare)]],
	);
	const byUse = table(
		['Template', 'Kind', 'Executions', 'Failure rate', 'Avg time', 'Ratings', 'Score'],
		report.topByUse.map((r) => [escapeHtml(r.templateName), escapeHtml(r.kind), fmt.int(r.executions), fmt.pct(r.failureRate),
			fmt.seconds(r.avgDurationMs), fmt.int(r.ratingCount), fmt.rating(r.bayesianScore)]),
	);
	const byRating = table(
		['Template', 'Score (Bayesian)', 'Mean rating', 'Ratings', 'Ratings ≥ 4'],
		report.topByRating.map((r) => [escapeHtml(r.templateName), fmt.rating(r.bayesianScore), fmt.rating(r.meanRating),
			fmt.int(r.ratingCount), fmt.pct(r.goodShare)]),
	);
	const errors = table(
		['Error', 'Count', 'Templates', 'Last seen'],
		report.failures.topErrors.map((e) => [escapeHtml(e.message), fmt.int(e.count), escapeHtml(e.templates.join(', ')), fmt.date(e.lastSeenAt)]),
	);
	const unitsPerVariant = (c: RunningCampaign) => escapeHtml(c.variants.map((v) => `${v.key}${v.isControl ? ' (control)' : ''}: ${v.units}`).join(', '));
	const campaignRows = table(
		['Campaign', 'Mode', 'Primary metric', 'Started', 'Units per variant', 'Decision so far'],
		campaigns.map((c) => [escapeHtml(c.name), escapeHtml(c.mode), escapeHtml(c.primaryMetric), c.startedAt ? fmt.date(c.startedAt) : '–',
			unitsPerVariant(c), escapeHtml(c.decision.summary)]),
	);
	// The same final decision and winner as the campaign's A/B results (lib/campaigns campaignDecision).
	const completedRows = table(
		['Campaign', 'Completed', 'Winner', 'Units per variant', 'Final decision'],
		report.completedCampaigns.map((c) => [escapeHtml(c.name), c.completedAt ? fmt.date(c.completedAt) : '–', escapeHtml(c.decision.winnerVariantKey ?? '–'),
			unitsPerVariant(c), escapeHtml(c.decision.summary)]),
	);
	const chart = barChart(
		'Executions per template',
		report.topByUse.map((r) => ({ label: r.templateName, value: r.executions, text: fmt.int(r.executions) })),
	);
	return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#111827;max-width:860px;margin:0 auto;padding:16px">
<h1 style="font-size:20px;margin:0 0 4px">${escapeHtml(title)}</h1>
<p style="color:#6b7280;font-size:13px;margin:0 0 12px">${fmt.date(report.from)} – ${fmt.date(report.to)} (end exclusive)</p>
${summary}
${chart}
<h2 style="font-size:16px;margin:20px 0 6px">Top templates by use</h2>${byUse}
<h2 style="font-size:16px;margin:20px 0 6px">Top templates by rating</h2>
<p style="color:#6b7280;font-size:12px;margin:0 0 6px">Ranked by a Bayesian average (${report.scoring.priorWeight} pseudo-ratings at the period's mean ${fmt.rating(report.scoring.priorMean)}), so one 5-star rating does not top the list.</p>${byRating}
<h2 style="font-size:16px;margin:20px 0 6px">Failures</h2>
<p style="font-size:13px;margin:0 0 6px">${fmt.int(report.failures.count)} failed runs, failure rate ${fmt.pct(report.failures.rate)}</p>${errors}
<h2 style="font-size:16px;margin:20px 0 6px">Running campaigns</h2>${campaignRows}
<h2 style="font-size:16px;margin:20px 0 6px">Campaigns completed in this period</h2>${completedRows}
</body></html>`;
}
