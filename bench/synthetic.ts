/**
 * Seeded synthetic catalogue + ratings with planted taste structure, generated inside Postgres
 * with generate_series and a hash-based PRNG (no data leaves the server, so millions of rows load
 * in seconds to minutes). Research report §3.5: MovieLens cannot be shipped, so we plant a
 * structure we know and check that the recommender finds it.
 *
 * The model:
 * - C latent clusters. A template belongs to one cluster; its category is the cluster's category
 *   (with probability `categoryNoise` a random one), its tags two of the cluster's four tags plus
 *   one of eight global style tags. Quality q_t ~ N(0, 0.5).
 * - A user prefers a primary and a secondary cluster and has a bias b_u ~ N(0, 0.4). The number of
 *   ratings per user is log-normal around ratings/users.
 * - Each pick: the primary cluster with probability 0.6, the secondary 0.2, any cluster 0.2; inside
 *   the cluster, popular templates are picked more often (index = ⌊size · v²⌋: missing not at random).
 * - rating = clamp(round(3.2 + b_u + q_t + affinity + ε), 1, 5), affinity +1.0 (primary), +0.4
 *   (secondary), −0.8 (other), ε ~ N(0, 0.8). Timestamps increase with each user's picks.
 * Each rating gets an execution (feedback needs one), so "already used" works as in production.
 *
 * Run alone to fill a database: `npx ts-node --transpile-only bench/synthetic.ts [templates users ratings]`.
 */
import { Client, type Pool } from 'pg';

import { postgresConfigFromUrl, type PostgresConfig } from '../lib/db/config';
import { closeAllPools, getPool } from '../lib/db/pool';
import { startPostgres, type RunningPostgres } from '../dev/postgres';

export interface SyntheticOptions {
	seed: number;
	templates: number;
	users: number;
	/** Target number of ratings (duplicates of a user/template pair are dropped, so slightly fewer). */
	ratings: number;
	clusters?: number;
	/** Share of templates whose category is random instead of their cluster's. */
	categoryNoise?: number;
	/** Picks drawn per requested rating (duplicates are dropped); default 1.13. */
	oversample?: number;
	/** Feedback timestamps start here. */
	start?: string;
	log?: (message: string) => void;
}

export interface SyntheticSummary {
	templates: number;
	users: number;
	ratings: number;
	clusters: number;
	loadMs: number;
	steps: Record<string, number>;
}

/** Creates a fresh database (dropping one of the same name) and returns its migrated pool. */
export async function freshDatabase(name: string): Promise<{ pool: Pool; config: PostgresConfig; server: RunningPostgres; drop(): Promise<void> }> {
	if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
	const server = await startPostgres();
	const admin = new Client({ connectionString: server.url });
	await admin.connect();
	try {
		await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
		await admin.query(`CREATE DATABASE ${name}`);
	} finally {
		await admin.end();
	}
	const u = new URL(server.url);
	u.pathname = `/${name}`;
	const config = postgresConfigFromUrl(u.toString(), { schema: 'promptlab', maxPoolSize: 20 });
	const pool = await getPool(config);
	return {
		pool,
		config,
		server,
		drop: async () => {
			await closeAllPools();
			const c = new Client({ connectionString: server.url });
			await c.connect();
			try {
				await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
			} finally {
				await c.end();
			}
			await server.stop();
		},
	};
}

/** The migrated pool of a database filled earlier (e.g. a benchmark run with --keep). */
export async function existingDatabase(name: string): Promise<{ pool: Pool; config: PostgresConfig; server: RunningPostgres; drop(): Promise<void> }> {
	const server = await startPostgres();
	const u = new URL(server.url);
	u.pathname = `/${name}`;
	const config = postgresConfigFromUrl(u.toString(), { schema: 'promptlab', maxPoolSize: 20 });
	const pool = await getPool(config);
	return { pool, config, server, drop: async () => closeAllPools() };
}

/** Hash-based uniform and normal draws; pg_temp functions live only as long as the session. */
const PRNG_SQL = `
CREATE FUNCTION pg_temp.u01(seed bigint, a bigint, b bigint, salt bigint) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ((hashint8extended(b * 8 + salt, hashint8extended(a, seed)) & 4503599627370495)::float8 + 0.5) / 4503599627370496.0 $$;
CREATE FUNCTION pg_temp.normal(seed bigint, a bigint, b bigint, salt bigint) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT sqrt(-2 * ln(pg_temp.u01(seed, a, b, salt))) * cos(2 * pi() * pg_temp.u01(seed, a, b, salt + 1)) $$;
`;

async function timed<T>(steps: Record<string, number>, name: string, log: (m: string) => void, fn: () => Promise<T>): Promise<T> {
	const t0 = Date.now();
	const result = await fn();
	steps[name] = Date.now() - t0;
	log(`  ${name}: ${steps[name]} ms`);
	return result;
}

/**
 * Drops the plain (non-constraint) indexes of a table and returns their definitions, so a bulk
 * load does not maintain them row by row; recreate them with the returned statements.
 */
async function dropPlainIndexes(client: Client, table: string): Promise<string[]> {
	const { rows } = await client.query<{ indexname: string; indexdef: string }>(
		`SELECT i.indexname, i.indexdef FROM pg_indexes i
		 WHERE i.schemaname = current_schema() AND i.tablename = $1
		   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
		[table],
	);
	for (const r of rows) await client.query(`DROP INDEX ${r.indexname}`);
	return rows.map((r) => r.indexdef);
}

/** Fills an empty PromptLab schema with the synthetic data set. */
export async function generateSynthetic(config: PostgresConfig, options: SyntheticOptions): Promise<SyntheticSummary> {
	const log = options.log ?? (() => undefined);
	const clusters = options.clusters ?? 12;
	const noise = options.categoryNoise ?? 0.15;
	// duplicate picks of a (user, template) pair are dropped: draw a few more than asked
	const meanPerUser = (options.ratings / options.users) * (options.oversample ?? 1.13);
	const steps: Record<string, number> = {};
	const started = Date.now();
	const client = new Client({ host: config.host, port: config.port, database: config.database, user: config.user, password: config.password });
	await client.connect();
	try {
		await client.query(`SET search_path TO ${config.schema}, public`);
		await client.query("SET work_mem = '256MB'");
		await client.query("SET maintenance_work_mem = '512MB'");
		await client.query(PRNG_SQL);
		// Bulk load without per-row foreign-key triggers when we may (superuser); the data is
		// consistent by construction.
		await client.query('SET session_replication_role = replica').catch(() => log('  (not superuser: foreign keys checked per row)'));
		const seed = options.seed;

		await timed(steps, 'templates', log, async () => {
			await client.query(
				`INSERT INTO templates (id, name, kind, category, tags, description, latest_version)
				 SELECT md5($1::bigint::text || ':t:' || t)::uuid,
				        'tpl-' || lpad(t::text, 6, '0'),
				        CASE WHEN pg_temp.u01($1::bigint, t, 0, 5) < 0.2 THEN 'text' ELSE 'image' END,
				        'cat-' || lpad((CASE WHEN pg_temp.u01($1::bigint, t, 0, 2) < $3 THEN floor(pg_temp.u01($1::bigint, t, 0, 3) * $2)::int ELSE c END)::text, 2, '0'),
				        ARRAY['g' || c || '-' || k1, 'g' || c || '-' || ((k1 + 1 + floor(pg_temp.u01($1::bigint, t, 0, 4) * 3)::int) % 4),
				              'style-' || floor(pg_temp.u01($1::bigint, t, 0, 6) * 8)::int],
				        'synthetic template ' || t, 1
				 FROM (SELECT t, floor(pg_temp.u01($1::bigint, t, 0, 1) * $2)::int AS c, floor(pg_temp.u01($1::bigint, t, 0, 7) * 4)::int AS k1
				       FROM generate_series(1, $4) t) x`,
				[seed, clusters, noise, options.templates],
			);
			await client.query(
				`INSERT INTO template_versions (template_id, version, positive_prompt, commit_message)
				 SELECT id, 1, 'prompt of ' || name, 'synthetic' FROM templates`,
			);
			// the latent truth, kept for analysis: cluster and quality per template
			await client.query(
				`CREATE TABLE synthetic_templates AS
				 SELECT t AS n, md5($1::bigint::text || ':t:' || t)::uuid AS template_id, floor(pg_temp.u01($1::bigint, t, 0, 1) * $2)::int AS cluster,
				        0.5 * pg_temp.normal($1::bigint, t, 0, 10) AS quality
				 FROM generate_series(1, $3) t`,
				[seed, clusters, options.templates],
			);
			await client.query(
				`CREATE TABLE synthetic_cluster_templates AS
				 SELECT s.cluster, (row_number() OVER (PARTITION BY s.cluster ORDER BY s.n) - 1)::int AS idx, s.template_id, s.quality, v.id AS version_id
				 FROM synthetic_templates s JOIN template_versions v ON v.template_id = s.template_id`,
			);
			await client.query('CREATE UNIQUE INDEX ON synthetic_cluster_templates (cluster, idx)');
			await client.query(
				`CREATE TABLE synthetic_cluster_sizes AS SELECT cluster, count(*)::int AS size FROM synthetic_cluster_templates GROUP BY cluster`,
			);
		});

		await timed(steps, 'users', log, async () => {
			await client.query(
				`CREATE TABLE synthetic_users AS
				 SELECT u, 'user-' || u AS user_id,
				        floor(pg_temp.u01($1::bigint, u, 1, 1) * $2::int)::int AS primary_cluster,
				        ((floor(pg_temp.u01($1::bigint, u, 1, 1) * $2::int)::int + 1 + floor(pg_temp.u01($1::bigint, u, 1, 2) * ($2::int - 1))::int) % $2::int) AS secondary_cluster,
				        0.4 * pg_temp.normal($1::bigint, u, 1, 3) AS bias,
				        greatest(3, round($4::float8 * exp(0.6 * pg_temp.normal($1::bigint, u, 1, 5) - 0.18)))::int AS n_ratings
				 FROM generate_series(1, $3) u`,
				[seed, clusters, options.users, meanPerUser],
			);
		});

		await timed(steps, 'picks', log, async () => {
			await client.query(
				`CREATE UNLOGGED TABLE synthetic_ratings AS
				 SELECT DISTINCT ON (p.u, ct.template_id)
				        p.u, p.user_id, p.k, ct.template_id, ct.version_id,
				        least(5, greatest(1, round(3.2 + p.bias + ct.quality
				             + CASE WHEN p.cluster = p.primary_cluster THEN 1.0 WHEN p.cluster = p.secondary_cluster THEN 0.4 ELSE -0.8 END
				             + 0.8 * pg_temp.normal($1::bigint, p.u, p.k, 40))))::smallint AS rating,
				        ($2::timestamptz + make_interval(secs => ((p.u::bigint * 7919 + p.k::bigint * 104729) % 31536000)::int)) AS created_at
				 FROM (
					SELECT su.u, su.user_id, su.primary_cluster, su.secondary_cluster, su.bias, k,
					       CASE WHEN r < 0.6 THEN su.primary_cluster WHEN r < 0.8 THEN su.secondary_cluster
					            ELSE floor(pg_temp.u01($1::bigint, su.u, k, 22) * $3)::int END AS cluster,
					       pg_temp.u01($1::bigint, su.u, k, 24) AS v
					FROM synthetic_users su
					CROSS JOIN LATERAL generate_series(1, su.n_ratings) k
					CROSS JOIN LATERAL (SELECT pg_temp.u01($1::bigint, su.u, k, 20) AS r) rr
				 ) p
				 JOIN synthetic_cluster_sizes cs ON cs.cluster = p.cluster
				 JOIN synthetic_cluster_templates ct ON ct.cluster = p.cluster AND ct.idx = floor(cs.size * p.v * p.v)::int
				 ORDER BY p.u, ct.template_id, p.k`,
				[seed, options.start ?? '2025-01-01T00:00:00Z', clusters],
			);
		});

		const dropped: string[] = [];
		await timed(steps, 'dropIndexes', log, async () => {
			dropped.push(...(await dropPlainIndexes(client, 'executions')), ...(await dropPlainIndexes(client, 'feedback')));
		});
		await timed(steps, 'executions', log, async () => {
			await client.query(
				`INSERT INTO executions (id, source, template_id, version_id, user_id, status, created_at, started_at, finished_at, duration_ms)
				 SELECT md5($1::bigint::text || ':e:' || u || ':' || k)::uuid, 'external', template_id, version_id, user_id, 'succeeded',
				        created_at - interval '10 seconds', created_at - interval '9 seconds', created_at - interval '1 second', 8000
				 FROM synthetic_ratings`,
				[seed],
			);
		});
		await timed(steps, 'feedback', log, async () => {
			await client.query(
				`INSERT INTO feedback (execution_id, template_id, version_id, user_id, rating, source, idempotency_key, created_at, updated_at)
				 SELECT md5($1::bigint::text || ':e:' || u || ':' || k)::uuid, template_id, version_id, user_id, rating, 'synthetic',
				        'syn:' || u || ':' || k, created_at, created_at
				 FROM synthetic_ratings`,
				[seed],
			);
		});
		await timed(steps, 'recreateIndexes', log, async () => {
			for (const def of dropped) await client.query(def);
		});
		await client.query('DROP TABLE synthetic_ratings');
		await client.query('SET session_replication_role = DEFAULT').catch(() => undefined);
		await timed(steps, 'templateStats', log, () => rebuildTemplateStats(client));
		await timed(steps, 'vacuumAnalyze', log, async () => {
			for (const table of ['templates', 'template_versions', 'executions', 'feedback', 'template_stats']) await client.query(`VACUUM ANALYZE ${table}`);
		});
		const counts = await client.query<{ ratings: string }>('SELECT count(*) AS ratings FROM feedback');
		return {
			templates: options.templates,
			users: options.users,
			ratings: Number(counts.rows[0].ratings),
			clusters,
			loadMs: Date.now() - started,
			steps,
		};
	} finally {
		await client.end();
	}
}

/** template_stats from executions and feedback (what Record Feedback maintains incrementally). */
export async function rebuildTemplateStats(db: Pick<Client, 'query'>): Promise<void> {
	await db.query('DELETE FROM template_stats');
	await db.query(
		`INSERT INTO template_stats (version_id, template_id, executions, succeeded, duration_ms_sum, duration_count,
			rating_count, rating_sum, rating_sum_sq, rating_hist, last_execution_at, last_rating_at)
		 SELECT v.id, v.template_id, coalesce(e.n, 0), coalesce(e.ok, 0), coalesce(e.dur, 0), coalesce(e.ok, 0),
		        coalesce(f.n, 0), coalesce(f.s, 0), coalesce(f.ss, 0), coalesce(f.hist, '{0,0,0,0,0}'), e.last, f.last
		 FROM template_versions v
		 LEFT JOIN (SELECT version_id, count(*) AS n, count(*) FILTER (WHERE status = 'succeeded') AS ok,
		                   coalesce(sum(duration_ms), 0) AS dur, max(created_at) AS last
		            FROM executions GROUP BY version_id) e ON e.version_id = v.id
		 LEFT JOIN (SELECT version_id, count(*) AS n, sum(rating) AS s, sum(rating * rating) AS ss,
		                   ARRAY[count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), count(*) FILTER (WHERE rating = 3),
		                         count(*) FILTER (WHERE rating = 4), count(*) FILTER (WHERE rating = 5)] AS hist,
		                   max(created_at) AS last
		            FROM feedback GROUP BY version_id) f ON f.version_id = v.id`,
	);
}

if (require.main === module) {
	const [templates, users, ratings] = process.argv.slice(2).map(Number);
	(async () => {
		const db = await freshDatabase('pl_bench_synthetic');
		const summary = await generateSynthetic(db.config, {
			seed: 42,
			templates: templates || 2000,
			users: users || 5000,
			ratings: ratings || 200_000,
			log: (m) => console.log(m),
		});
		console.log(JSON.stringify(summary, null, 2));
		console.log(`database: ${db.config.database} (left in place)`);
		await closeAllPools();
		await db.server.stop();
	})().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
