import { Pool, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';

import { toPromptLabError } from '../errors';
import { configKey, type PostgresConfig } from './config';
import { migrate } from './migrator';

/**
 * One pg.Pool per credential per process (DESIGN.md). This module-level map is a cache only:
 * losing it costs a reconnect, never data, which is what n8n queue mode requires.
 */
interface PoolEntry {
	pool: Pool;
	config: PostgresConfig;
	lastUsed: number;
	ready?: Promise<void>;
}

const pools = new Map<string, PoolEntry>();
const IDLE_POOL_TTL_MS = 5 * 60_000;
let sweeper: NodeJS.Timeout | undefined;

export interface Queryable {
	query<R extends QueryResultRow = QueryResultRow>(
		text: string,
		values?: unknown[],
	): Promise<{ rows: R[]; rowCount: number | null }>;
}

function poolConfig(config: PostgresConfig): PoolConfig {
	return {
		host: config.host,
		port: config.port,
		database: config.database,
		user: config.user,
		password: config.password,
		max: config.maxPoolSize,
		idleTimeoutMillis: 30_000,
		connectionTimeoutMillis: 10_000,
		// The schema is whitelisted by SCHEMA_NAME, so it is safe inside the startup option.
		options: `-c search_path=${config.schema},public`,
		ssl:
			config.ssl === 'disable'
				? false
				: { rejectUnauthorized: config.ssl === 'verify-full' && !config.allowUnauthorizedCerts },
		application_name: 'n8n-nodes-promptlab',
	};
}

function sweepIdlePools(): void {
	const now = Date.now();
	for (const [key, entry] of pools) {
		if (now - entry.lastUsed > IDLE_POOL_TTL_MS && entry.pool.totalCount === entry.pool.idleCount) {
			pools.delete(key);
			void entry.pool.end().catch(() => undefined);
		}
	}
	if (pools.size === 0 && sweeper) {
		clearInterval(sweeper);
		sweeper = undefined;
	}
}

function entryFor(config: PostgresConfig): PoolEntry {
	const key = configKey(config);
	let entry = pools.get(key);
	if (!entry) {
		const pool = new Pool(poolConfig(config));
		// An idle client that loses its connection emits 'error' on the pool; without a listener
		// that would crash the n8n process.
		pool.on('error', () => undefined);
		entry = { pool, config, lastUsed: Date.now() };
		pools.set(key, entry);
		if (!sweeper) {
			sweeper = setInterval(sweepIdlePools, 60_000);
			sweeper.unref();
		}
	}
	entry.lastUsed = Date.now();
	return entry;
}

/**
 * The pool for this credential, with the schema migrated (once per pool and process; the
 * migrator's advisory lock makes concurrent processes apply each migration exactly once).
 * A failure is a PromptLabError: the driver's codes the user can act on (refused connection, bad
 * password, missing database or privileges) become database_* codes with a hint.
 */
export async function getPool(config: PostgresConfig): Promise<Pool> {
	const entry = entryFor(config);
	if (!entry.ready) {
		entry.ready = migrate(entry.pool, config.schema).then(
			() => undefined,
			(error: unknown) => {
				entry.ready = undefined; // let the next call retry (e.g. the database was down)
				throw toPromptLabError(error);
			},
		);
	}
	await entry.ready;
	return entry.pool;
}

/** Runs fn in a transaction on one client; rolls back on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query('BEGIN');
		const result = await fn(client);
		await client.query('COMMIT');
		return result;
	} catch (error) {
		await client.query('ROLLBACK').catch(() => undefined);
		throw error;
	} finally {
		client.release();
	}
}

/** Closes every pool of this process (tests, scripts). */
export async function closeAllPools(): Promise<void> {
	const entries = [...pools.values()];
	pools.clear();
	if (sweeper) {
		clearInterval(sweeper);
		sweeper = undefined;
	}
	await Promise.all(entries.map((e) => e.pool.end().catch(() => undefined)));
}
