/**
 * Record Feedback write throughput: 8 concurrent clients, each on its own pool connection,
 * calling lib/feedback recordFeedback (one statement in lib/db/feedback.ts) against a real Postgres (DATABASE_URL, else an
 * embedded server) in a fresh database seeded with 10,000 executions over 100 versions.
 *
 *   npx ts-node --transpile-only bench/feedback-writes.ts [--workers 8] [--writes 2500] [--executions 10000] [--async-commit]
 *
 * The mix per worker: new ratings (some with explicit idempotency keys), replacements (same user
 * and execution, another rating) and webhook retries (an earlier key again). At the end the
 * aggregates are recomputed from the feedback table and must match exactly.
 * Target: ≥ 1,500 writes/s on the 2-core CI machine. Results: bench/results/feedback-writes.json.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { resolve } from 'node:path';

import { Client, type Pool, type PoolClient } from 'pg';

import { postgresConfigFromUrl } from '../lib/db/config';
import { recordFeedback, type RecordFeedbackInput, type RecordFeedbackResult } from '../lib/feedback';
import { closeAllPools, getPool } from '../lib/db/pool';
import { createTemplate, createVersion } from '../lib/templates/manage';
import { startPostgres } from '../dev/postgres';

const TARGET_WRITES_PER_SECOND = 1500;

function argument(name: string, fallback: number): number {
	const index = process.argv.indexOf(`--${name}`);
	const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
	if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
	return value;
}

const settings = {
	workers: argument('workers', 8),
	writesPerWorker: argument('writes', 2500),
	executions: argument('executions', 10_000),
	templates: 10,
	versionsPerTemplate: 10,
	campaignShare: 0.2,
	asyncCommit: process.argv.includes('--async-commit'),
	warmupWritesPerWorker: 50,
	mix: { newDerivedKey: 0.5, newExplicitKey: 0.15, replacement: 0.25, retry: 0.1 },
};

/** Deterministic PRNG (mulberry32) so runs are comparable. */
function prng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return Number.NaN;
	const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
	return sorted[index];
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

async function seed(pool: Pool): Promise<{ executionIds: string[]; versionIds: string[] }> {
	const versionIds: string[] = [];
	let firstTemplate = '';
	for (let t = 0; t < settings.templates; t++) {
		const { template, version } = await createTemplate(pool, { name: `bench-${t}`, kind: 'image', firstVersion: { positivePrompt: `t${t} v1` } });
		if (t === 0) firstTemplate = template.id;
		versionIds.push(version.id);
		for (let v = 2; v <= settings.versionsPerTemplate; v++) {
			versionIds.push((await createVersion(pool, { id: template.id }, { positivePrompt: `t${t} v${v}` })).version.id);
		}
	}
	const campaign = await pool.query<{ id: string }>(`INSERT INTO campaigns (name, seed, status, started_at) VALUES ('bench', 'bench', 'running', now()) RETURNING id`);
	const variants = await pool.query<{ id: string }>(
		`INSERT INTO campaign_variants (campaign_id, key, position, template_id, version_id, weight, is_control)
		 VALUES ($1, 'control', 0, $2, $3, 0.5, true), ($1, 'B', 1, $2, $4, 0.5, false) RETURNING id`,
		[campaign.rows[0].id, firstTemplate, versionIds[0], versionIds[1]],
	);
	// Executions in bulk (the seeding is not what is measured), finished, with the stats they imply.
	const { rows } = await pool.query<{ id: string }>(
		`WITH v AS (SELECT array_agg(id ORDER BY id) AS ids FROM template_versions),
		      s AS (SELECT g, (g % 100) < ($3::float8 * 100) AS in_campaign FROM generate_series(0, $1 - 1) g)
		 INSERT INTO executions (id, source, template_id, version_id, campaign_id, variant_id, user_id, status, created_at,
		 	started_at, finished_at, duration_ms)
		 SELECT gen_random_uuid(), 'comfyui', tv.template_id, tv.id,
		 	CASE WHEN s.in_campaign THEN $2::uuid END,
		 	CASE WHEN s.in_campaign THEN ($4::uuid[])[1 + s.g % 2] END,
		 	'unit-' || (s.g % 2000), 'succeeded', now() - interval '1 hour', now() - interval '1 hour', now(), 1000 + s.g % 5000
		 FROM s CROSS JOIN v
		 JOIN template_versions tv ON tv.id = CASE WHEN s.in_campaign THEN v.ids[1 + s.g % 2] ELSE v.ids[1 + s.g % array_length(v.ids, 1)] END
		 RETURNING id`,
		[settings.executions, campaign.rows[0].id, settings.campaignShare, variants.rows.map((r) => r.id)],
	);
	await pool.query(
		`INSERT INTO template_stats (version_id, template_id, executions, succeeded, duration_ms_sum, duration_count, last_execution_at)
		 SELECT version_id, template_id, count(*), count(*), sum(duration_ms), count(*), max(finished_at) FROM executions GROUP BY 1, 2`,
	);
	await pool.query(
		`INSERT INTO campaign_variant_stats (variant_id, campaign_id, executions, succeeded, duration_ms_sum, duration_count)
		 SELECT variant_id, campaign_id, count(*), count(*), sum(duration_ms), count(*) FROM executions WHERE variant_id IS NOT NULL GROUP BY 1, 2`,
	);
	await pool.query('ANALYZE');
	return { executionIds: rows.map((r) => r.id), versionIds };
}

interface WorkerResult {
	latenciesMs: number[];
	outcomes: { inserted: number; replaced: number; duplicate: number };
}

async function worker(client: PoolClient, index: number, executionIds: string[], writes: number, measure: boolean): Promise<WorkerResult> {
	const random = prng(1000 + index + (measure ? 0 : 7919));
	const rated: Array<{ executionId: string; userId: string; rating: number }> = [];
	const sentWithKeys: RecordFeedbackInput[] = [];
	const result: WorkerResult = { latenciesMs: [], outcomes: { inserted: 0, replaced: 0, duplicate: 0 } };
	const { newDerivedKey, newExplicitKey, replacement } = settings.mix;
	for (let k = 0; k < writes; k++) {
		const roll = random();
		const rating = 1 + Math.floor(random() * 5);
		let input: RecordFeedbackInput;
		if (roll < newDerivedKey + newExplicitKey || rated.length === 0) {
			const executionId = executionIds[Math.floor(random() * executionIds.length)];
			const userId = `${measure ? 'm' : 'w'}${index}-u${k}`;
			input = { executionId, rating, userId, source: 'bench' };
			if (roll >= newDerivedKey) input.idempotencyKey = `${userId}-${randomUUID()}`;
			rated.push({ executionId, userId, rating });
		} else if (roll < newDerivedKey + newExplicitKey + replacement) {
			const earlier = rated[Math.floor(random() * rated.length)];
			earlier.rating = (earlier.rating % 5) + 1; // always a different rating
			input = { executionId: earlier.executionId, userId: earlier.userId, rating: earlier.rating, source: 'bench' };
		} else if (sentWithKeys.length > 0) {
			input = sentWithKeys[Math.floor(random() * sentWithKeys.length)]; // a webhook retry
		} else {
			const earlier = rated[rated.length - 1];
			input = { executionId: earlier.executionId, userId: earlier.userId, rating: earlier.rating, source: 'bench' }; // derived-key retry
		}
		if (input.idempotencyKey) sentWithKeys.push(input);
		const started = process.hrtime.bigint();
		const outcome: RecordFeedbackResult = await recordFeedback(client, input, { asyncCommit: settings.asyncCommit });
		if (measure) result.latenciesMs.push(Number(process.hrtime.bigint() - started) / 1e6);
		if (outcome.duplicate) result.outcomes.duplicate++;
		else if (outcome.replaced) result.outcomes.replaced++;
		else result.outcomes.inserted++;
	}
	return result;
}

async function aggregatesExact(pool: Pool): Promise<{ exact: boolean; mismatches: number }> {
	const { rows } = await pool.query<{ mismatches: number }>(
		`WITH f AS (
			SELECT version_id, count(*) AS c, sum(rating) AS s, sum(rating * rating) AS q,
				ARRAY[count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), count(*) FILTER (WHERE rating = 3),
				      count(*) FILTER (WHERE rating = 4), count(*) FILTER (WHERE rating = 5)] AS h
			FROM feedback GROUP BY version_id
		), v AS (
			SELECT variant_id, count(*) AS c, sum(rating) AS s, sum(rating * rating) AS q, count(*) FILTER (WHERE rating >= 4) AS g
			FROM feedback WHERE variant_id IS NOT NULL GROUP BY variant_id
		), u AS (
			SELECT f.campaign_id, coalesce(e.user_id, f.user_id) AS unit_id, count(*) AS c, sum(f.rating) AS s,
				count(*) FILTER (WHERE f.rating >= 4) AS g
			FROM feedback f JOIN executions e ON e.id = f.execution_id WHERE f.campaign_id IS NOT NULL GROUP BY 1, 2
		)
		SELECT (SELECT count(*) FROM template_stats t FULL JOIN f ON f.version_id = t.version_id
		        WHERE coalesce(t.rating_count, 0) <> coalesce(f.c, 0) OR coalesce(t.rating_sum, 0) <> coalesce(f.s, 0)
		           OR coalesce(t.rating_sum_sq, 0) <> coalesce(f.q, 0) OR t.rating_hist IS DISTINCT FROM coalesce(f.h, '{0,0,0,0,0}'))
		     + (SELECT count(*) FROM campaign_variant_stats t FULL JOIN v ON v.variant_id = t.variant_id
		        WHERE coalesce(t.rating_count, 0) <> coalesce(v.c, 0) OR coalesce(t.rating_sum, 0) <> coalesce(v.s, 0)
		           OR coalesce(t.rating_sum_sq, 0) <> coalesce(v.q, 0) OR coalesce(t.good_count, 0) <> coalesce(v.g, 0))
		     + (SELECT count(*) FROM campaign_unit_stats t FULL JOIN u ON u.campaign_id = t.campaign_id AND u.unit_id = t.unit_id
		        WHERE coalesce(t.rating_count, 0) <> coalesce(u.c, 0) OR coalesce(t.rating_sum, 0) <> coalesce(u.s, 0)
		           OR coalesce(t.good_count, 0) <> coalesce(u.g, 0)) AS mismatches`,
	);
	const mismatches = Number(rows[0].mismatches);
	return { exact: mismatches === 0, mismatches };
}

async function main(): Promise<void> {
	const server = await startPostgres();
	const databaseName = `pl_bench_feedback_${randomBytes(4).toString('hex')}`;
	const admin = new Client({ connectionString: server.url });
	await admin.connect();
	await admin.query(`CREATE DATABASE ${databaseName}`);
	const url = new URL(server.url);
	url.pathname = `/${databaseName}`;
	const config = postgresConfigFromUrl(url.toString(), { maxPoolSize: settings.workers + 2 });
	try {
		const pool = await getPool(config);
		const serverInfo = await pool.query<{ version: string; fsync: string; synchronous_commit: string }>(
			`SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
			        current_setting('synchronous_commit') AS synchronous_commit`,
		);
		const seedStarted = Date.now();
		const { executionIds, versionIds } = await seed(pool);
		console.log(`seeded ${executionIds.length} executions over ${versionIds.length} versions in ${Date.now() - seedStarted} ms`);

		const clients = await Promise.all(Array.from({ length: settings.workers }, () => pool.connect()));
		// Warm-up: prepares the statement on every connection and fills caches; not measured.
		await Promise.all(clients.map((c, k) => worker(c, k, executionIds, settings.warmupWritesPerWorker, false)));

		const loadAtStart = loadavg();
		const started = process.hrtime.bigint();
		const results = await Promise.all(clients.map((c, k) => worker(c, k, executionIds, settings.writesPerWorker, true)));
		const seconds = Number(process.hrtime.bigint() - started) / 1e9;
		clients.forEach((c) => c.release());

		const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
		const writes = latencies.length;
		const outcomes = results.reduce(
			(sum, r) => ({
				inserted: sum.inserted + r.outcomes.inserted,
				replaced: sum.replaced + r.outcomes.replaced,
				duplicate: sum.duplicate + r.outcomes.duplicate,
			}),
			{ inserted: 0, replaced: 0, duplicate: 0 },
		);
		const writesPerSecond = writes / seconds;
		const check = await aggregatesExact(pool);
		const summary = {
			machine: {
				cpus: cpus().length,
				cpuModel: cpus()[0]?.model ?? 'unknown',
				node: process.version,
				platform: platform(),
				release: release(),
				totalMemoryMb: Math.round(totalmem() / 2 ** 20),
				loadAverageAtStart: loadAtStart,
				date: new Date().toISOString(),
			},
			postgres: {
				version: serverInfo.rows[0].version,
				embedded: server.embedded,
				fsync: serverInfo.rows[0].fsync,
				synchronousCommit: serverInfo.rows[0].synchronous_commit,
			},
			command: `npx ts-node --transpile-only bench/feedback-writes.ts ${process.argv.slice(2).join(' ')}`.trim(),
			settings: { ...settings, versions: versionIds.length, statement: 'one prepared data-modifying CTE per write (lib/db/feedback.ts)' },
			target: { metric: 'writes/s', min: TARGET_WRITES_PER_SECOND, value: round(writesPerSecond, 1), pass: writesPerSecond >= TARGET_WRITES_PER_SECOND },
			results: {
				writes,
				seconds: round(seconds),
				writesPerSecond: round(writesPerSecond, 1),
				latencyMs: {
					p50: round(percentile(latencies, 0.5)),
					p95: round(percentile(latencies, 0.95)),
					p99: round(percentile(latencies, 0.99)),
					max: round(latencies[latencies.length - 1]),
					mean: round(latencies.reduce((a, b) => a + b, 0) / writes),
				},
				outcomes,
				aggregatesExact: check.exact,
				aggregateMismatches: check.mismatches,
			},
		};
		console.log(
			`${writes} writes by ${settings.workers} clients in ${summary.results.seconds} s: ${summary.results.writesPerSecond} writes/s ` +
				`(target ≥ ${TARGET_WRITES_PER_SECOND}: ${summary.target.pass ? 'pass' : 'FAIL'}); latency p50 ${summary.results.latencyMs.p50} ms, ` +
				`p95 ${summary.results.latencyMs.p95} ms, p99 ${summary.results.latencyMs.p99} ms; ` +
				`inserted ${outcomes.inserted}, replaced ${outcomes.replaced}, duplicates ${outcomes.duplicate}; aggregates exact: ${check.exact}`,
		);
		// One section per kind of server, so an embedded run does not overwrite the DATABASE_URL one.
		const dir = resolve(__dirname, 'results');
		const file = resolve(dir, 'feedback-writes.json');
		mkdirSync(dir, { recursive: true });
		let previous: { runs?: Record<string, unknown> } = {};
		try {
			previous = JSON.parse(readFileSync(file, 'utf8')) as typeof previous;
		} catch {
			// first run
		}
		const section = `${server.embedded ? 'embeddedPostgres' : 'databaseUrl'}${settings.asyncCommit ? 'AsyncCommit' : ''}`;
		const runs = { ...(previous.runs ?? {}), [section]: summary };
		writeFileSync(file, `${JSON.stringify({ benchmark: 'feedback-writes', runs }, null, '\t')}\n`);
		if (!check.exact) process.exitCode = 1;
	} finally {
		await closeAllPools();
		await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => undefined);
		await admin.end();
		await server.stop();
	}
}

main().catch((error: unknown) => {
	console.error(error);
	process.exit(1);
});
