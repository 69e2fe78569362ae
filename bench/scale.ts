/**
 * Scale benchmark for Recommend and A/B Campaign at the size named in the brief: 10,000
 * templates, 100,000 users, 5,000,000 feedback rows (+ as many executions), bulk-loaded with
 * generate_series (bench/synthetic.ts), then:
 * - Refresh Similarities duration;
 * - Recommend For User p50/p95/p99 over 200 random known users (target p95 ≤ 50 ms), unknown users
 *   (popular path), Popular, Similar Templates;
 * - A/B campaign Results latency with 100,000 assigned units (target ≤ 50 ms);
 * - Assign latency for known units (sticky read) and new units (insert).
 * All timings are single requests, one after the other, on a warm pool.
 *
 * Run: `npx ts-node --transpile-only bench/scale.ts [--keep | --reuse]` (DATABASE_URL, else an
 * embedded Postgres). --keep leaves the database in place; --reuse measures again on it without
 * reloading. Writes bench/results/scale.json. SCALE=0.1 scales the sizes down for a quick run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

import type { Pool } from 'pg';

import { assignUnit, createCampaign, getCampaignResults, startCampaign } from '../lib/campaigns';
import { popularTemplates, recommendForUser, refreshSimilarities, similarTemplates } from '../lib/recommendations';
import { weeklyReport } from '../lib/reports/weekly';
import { seededRandom } from '../lib/stats';
import { existingDatabase, freshDatabase, generateSynthetic } from './synthetic';

const SCALE = Number(process.env.SCALE ?? 1);
const SIZE = {
	seed: 7,
	templates: Math.round(10_000 * SCALE),
	users: Math.round(100_000 * SCALE),
	ratings: Math.round(5_000_000 * SCALE),
	clusters: 20,
	// fewer duplicate picks than the default assumes at this catalogue size: lands near 5.0M rows
	oversample: 1.066,
};
const CAMPAIGN_UNITS = Math.round(100_000 * SCALE);
const DATABASE = SCALE === 1 ? 'pl_bench_scale' : 'pl_bench_scale_small';
const SAMPLES = 200;

interface Latency {
	n: number;
	p50: number;
	p95: number;
	p99: number;
	max: number;
	mean: number;
}

function summarise(ms: number[]): Latency {
	const sorted = [...ms].sort((a, b) => a - b);
	const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
	const round = (x: number) => Math.round(x * 100) / 100;
	return {
		n: sorted.length,
		p50: round(at(0.5)),
		p95: round(at(0.95)),
		p99: round(at(0.99)),
		max: round(sorted[sorted.length - 1]),
		mean: round(sorted.reduce((s, x) => s + x, 0) / sorted.length),
	};
}

async function measure(n: number, warmup: number, fn: (i: number) => Promise<unknown>): Promise<Latency> {
	for (let i = 0; i < warmup; i++) await fn(-1 - i);
	const times: number[] = [];
	for (let i = 0; i < n; i++) {
		const t0 = process.hrtime.bigint();
		await fn(i);
		times.push(Number(process.hrtime.bigint() - t0) / 1e6);
	}
	return summarise(times);
}

function line(name: string, l: Latency): string {
	return `| ${name} | ${l.n} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.max} |`;
}

async function seedCampaign(pool: Pool, log: (m: string) => void) {
	const { rows } = await pool.query<{ name: string }>('SELECT name FROM templates ORDER BY name LIMIT 2');
	const campaign = await createCampaign(pool, {
		name: 'scale campaign',
		variants: [
			{ key: 'control', template: { name: rows[0].name }, version: 1, weight: 1, isControl: true },
			{ key: 'B', template: { name: rows[1].name }, version: 1, weight: 1, isControl: false },
		],
		minSamplePerVariant: 1000,
	});
	await startCampaign(pool, { campaign: { id: campaign.id } });
	const [control, b] = campaign.variants;
	const t0 = Date.now();
	// 100k assigned units split 50/50; 60% of them rated 1–3 times (what Record Feedback leaves behind).
	await pool.query(
		`INSERT INTO campaign_assignments (campaign_id, unit_id, variant_id, assigned_at)
		 SELECT $1, 'unit-' || g, CASE WHEN g % 2 = 0 THEN $2::uuid ELSE $3::uuid END, now() - make_interval(secs => g)
		 FROM generate_series(1, $4) g`,
		[campaign.id, control.id, b.id, CAMPAIGN_UNITS],
	);
	await pool.query(
		`INSERT INTO campaign_unit_stats (campaign_id, unit_id, variant_id, rating_count, rating_sum, good_count)
		 SELECT $1, 'unit-' || g, CASE WHEN g % 2 = 0 THEN $2::uuid ELSE $3::uuid END, c, c * (2 + (g % 4)), CASE WHEN g % 4 >= 2 THEN c ELSE 0 END
		 FROM generate_series(1, $4) g CROSS JOIN LATERAL (SELECT 1 + (g % 3) AS c) x
		 WHERE g % 5 < 3`,
		[campaign.id, control.id, b.id, CAMPAIGN_UNITS],
	);
	await pool.query(
		`INSERT INTO campaign_variant_stats (variant_id, campaign_id, executions, succeeded, failed, duration_ms_sum, duration_count,
			rating_count, rating_sum, rating_sum_sq, good_count)
		 SELECT variant_id, campaign_id, count(*) * 3, count(*) * 3 - 10, 10, count(*) * 3 * 8000, count(*) * 3,
		        coalesce(sum(rating_count), 0), coalesce(sum(rating_sum), 0), 0, coalesce(sum(good_count), 0)
		 FROM campaign_unit_stats WHERE campaign_id = $1 GROUP BY variant_id, campaign_id`,
		[campaign.id],
	);
	await pool.query('VACUUM ANALYZE campaign_assignments');
	await pool.query('VACUUM ANALYZE campaign_unit_stats');
	log(`campaign seeded with ${CAMPAIGN_UNITS} units in ${Date.now() - t0} ms`);
	return campaign;
}

async function main(): Promise<void> {
	const log = (m: string) => console.log(m);
	const reuse = process.argv.includes('--reuse');
	const keep = reuse || process.argv.includes('--keep');
	log(`scale benchmark: ${SIZE.templates} templates, ${SIZE.users} users, ~${SIZE.ratings} ratings; ${cpus().length} cores`);
	const db = reuse ? await existingDatabase(DATABASE) : await freshDatabase(DATABASE);
	const pool = db.pool;
	try {
		let load: { ratings: number; loadMs: number; steps: Record<string, number> };
		if (reuse) {
			// measure again on the data of an earlier --keep run
			await pool.query('DELETE FROM campaigns');
			const ratings = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM feedback')).rows[0].n);
			load = { ratings, loadMs: NaN, steps: {} };
			log(`reusing ${DATABASE}: ${ratings} ratings`);
		} else {
			load = await generateSynthetic(db.config, { ...SIZE, log });
			log(`loaded ${load.ratings} ratings in ${(load.loadMs / 1000).toFixed(1)} s`);
		}

		const refresh = await refreshSimilarities(pool);
		log(`refresh similarities: ${(refresh.durationMs / 1000).toFixed(1)} s, ${refresh.pairs} neighbour rows from ${refresh.ratings} user-template ratings`);
		const refreshAgain = await refreshSimilarities(pool);
		log(`second refresh (warm): ${(refreshAgain.durationMs / 1000).toFixed(1)} s`);
		await pool.query('VACUUM ANALYZE template_neighbors');

		const random = seededRandom(99);
		const knownUsers = Array.from({ length: SAMPLES + 20 }, () => `user-${1 + Math.floor(random() * SIZE.users)}`);
		const forUser = await measure(SAMPLES, 20, (i) => recommendForUser(pool, knownUsers[i < 0 ? -1 - i : 20 + i], { refreshIfOlderThanHours: 24 }));
		log(`For User (known users): p50 ${forUser.p50} ms, p95 ${forUser.p95} ms`);
		let personalised = 0;
		for (const u of knownUsers.slice(20, 70)) if ((await recommendForUser(pool, u, { refreshIfOlderThanHours: 0 })).strategy === 'personalised') personalised++;
		const forUnknown = await measure(SAMPLES, 10, (i) => recommendForUser(pool, `new-user-${i}`, { refreshIfOlderThanHours: 24 }));
		log(`For User (unknown users, popular): p50 ${forUnknown.p50} ms, p95 ${forUnknown.p95} ms`);
		const filtered = await measure(SAMPLES, 10, (i) =>
			recommendForUser(pool, knownUsers[Math.abs(i) % knownUsers.length], { refreshIfOlderThanHours: 24, kind: 'image', tags: ['style-3', 'style-5'] }),
		);
		const popular = await measure(SAMPLES, 10, () => popularTemplates(pool, { limit: 10 }));
		const templateIds = (await pool.query<{ id: string }>('SELECT id FROM templates ORDER BY md5(id::text) LIMIT $1', [SAMPLES + 10])).rows.map((r) => r.id);
		const similar = await measure(SAMPLES, 10, (i) => similarTemplates(pool, { id: templateIds[Math.abs(i) % templateIds.length] }, { limit: 10 }));
		log(`Popular: p95 ${popular.p95} ms; Similar Templates: p95 ${similar.p95} ms`);

		const campaign = await seedCampaign(pool, log);
		const results = await measure(50, 5, () => getCampaignResults(pool, { campaign: { id: campaign.id } }));
		const sample = await getCampaignResults(pool, { campaign: { id: campaign.id } });
		log(`campaign Results (${CAMPAIGN_UNITS} units): p50 ${results.p50} ms, p95 ${results.p95} ms; decision ${sample.decision.summary}`);
		const assignKnown = await measure(500, 20, (i) => assignUnit(pool, { campaign: { id: campaign.id }, unitId: `unit-${1 + Math.abs(i * 7919) % CAMPAIGN_UNITS}` }));
		const assignNew = await measure(500, 20, (i) => assignUnit(pool, { campaign: { id: campaign.id }, unitId: `fresh-unit-${i}` }));
		log(`Assign: known unit p95 ${assignKnown.p95} ms, new unit p95 ${assignNew.p95} ms`);

		// The weekly report over the last 7 days of the synthetic year (ratings and executions are
		// spread over 365 days, so a week holds ~1/52 of the 5M rows).
		const span = await pool.query<{ to: Date }>('SELECT max(created_at) AS to FROM feedback');
		const reportFrom = new Date(span.rows[0].to.getTime() - 7 * 86_400_000);
		const reportTo = new Date(span.rows[0].to.getTime() + 1);
		const report = await measure(5, 1, () => weeklyReport(pool, { from: reportFrom, to: reportTo, limit: 10 }));
		const reportSample = await weeklyReport(pool, { from: reportFrom, to: reportTo, limit: 10 });
		log(`weekly report (${reportSample.totals.executions} executions, ${reportSample.totals.ratingCount} ratings in the window): p50 ${report.p50} ms, max ${report.max} ms`);

		const table = [
			'| operation | n | p50 ms | p95 ms | p99 ms | max ms |',
			'|---|---|---|---|---|---|',
			line('Recommend For User (known user)', forUser),
			line('Recommend For User (unknown user → popular)', forUnknown),
			line('Recommend For User (kind + tags filter)', filtered),
			line('Recommend Popular', popular),
			line('Recommend Similar Templates', similar),
			line(`A/B Results (${CAMPAIGN_UNITS} units)`, results),
			line('A/B Assign (existing unit)', assignKnown),
			line('A/B Assign (new unit)', assignNew),
			line(`Weekly report (${reportSample.totals.ratingCount} ratings, ${reportSample.totals.executions} executions in the window)`, report),
		].join('\n');
		console.log(`\n${table}\n`);
		const outDir = join(__dirname, 'results');
		mkdirSync(outDir, { recursive: true });
		writeFileSync(
			join(outDir, SCALE === 1 ? 'scale.json' : `scale-${SCALE}.json`),
			`${JSON.stringify(
				{
					benchmark: 'scale',
					date: new Date().toISOString(),
					machine: { cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), postgres: (await pool.query('SHOW server_version')).rows[0].server_version },
					data: { ...SIZE, loadedRatings: load.ratings, loadSeconds: load.loadMs / 1000, loadSteps: load.steps, campaignUnits: CAMPAIGN_UNITS },
					refreshSimilarities: {
						seconds: refresh.durationMs / 1000,
						secondRunSeconds: refreshAgain.durationMs / 1000,
						stepsMs: refreshAgain.steps,
						neighbourRows: refresh.pairs,
						userTemplateRatings: refresh.ratings,
						parameters: refresh.parameters,
					},
					targets: {
						forUserP95Ms: 50,
						resultsMs: 50,
						weeklyReportMs: 1000,
						forUserMet: forUser.p95 <= 50,
						resultsMet: results.p95 <= 50,
						weeklyReportMet: report.max <= 1000,
					},
					latencyMs: {
						forUserKnown: forUser,
						forUserUnknown: forUnknown,
						forUserFiltered: filtered,
						popular,
						similarTemplates: similar,
						campaignResults: results,
						assignExistingUnit: assignKnown,
						assignNewUnit: assignNew,
						weeklyReport: report,
					},
					weeklyReportWindow: { from: reportFrom.toISOString(), to: reportTo.toISOString(), executions: reportSample.totals.executions, ratings: reportSample.totals.ratingCount },
					personalisedShareOfKnownUsers: personalised / 50,
					campaignDecision: sample.decision,
					table,
				},
				null,
				'\t',
			)}\n`,
		);
	} finally {
		if (keep) {
			log(`database ${db.config.database} kept`);
			const { closeAllPools } = await import('../lib/db/pool');
			await closeAllPools();
		} else {
			await db.drop();
		}
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
