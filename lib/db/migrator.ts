import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Pool } from 'pg';

import { UpstreamError } from '../errors';
import { SCHEMA_NAME } from './config';

export interface Migration {
	version: string; // "001"
	name: string; // "001_initial_schema.sql"
	sql: string;
	checksum: string;
}

/** migrations/ sits two levels above this file both in the source tree and in dist/. */
function migrationsDir(): string {
	const candidates = [join(__dirname, '..', '..', 'migrations'), join(__dirname, '..', '..', '..', 'migrations')];
	const found = candidates.find((dir) => existsSync(dir));
	if (!found) {
		throw new UpstreamError('internal_error', `PromptLab migrations folder not found (looked in ${candidates.join(', ')})`, {
			hint: 'The package is incomplete: reinstall n8n-nodes-promptlab',
		});
	}
	return found;
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
	return readdirSync(dir)
		.filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
		.sort()
		.map((name) => {
			const sql = readFileSync(join(dir, name), 'utf8');
			return {
				version: name.slice(0, 3),
				name,
				sql,
				checksum: createHash('sha256').update(sql).digest('hex'),
			};
		});
}

/**
 * Applies pending migrations to `schema` in one transaction under a transaction-scoped advisory
 * lock: ten workers starting at once queue on the lock, the first applies, the others then see
 * every migration recorded and do nothing. A released migration whose file changed is refused,
 * because silently running a different schema than the one recorded corrupts later upgrades.
 */
export async function migrate(pool: Pool, schema: string): Promise<string[]> {
	if (!SCHEMA_NAME.test(schema)) {
		throw new UpstreamError('database_credential_invalid', `Invalid schema name "${schema}"`, {
			hint: 'Use lower-case letters, digits and underscores (e.g. "promptlab") as Schema of the PromptLab Postgres credential',
			details: { schema },
		});
	}
	const migrations = loadMigrations();
	const client = await pool.connect();
	try {
		await client.query('BEGIN');
		await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`n8n-nodes-promptlab:migrate:${schema}`]);
		await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
		await client.query(`SET LOCAL search_path TO ${schema}, public`);
		await client.query(`CREATE TABLE IF NOT EXISTS promptlab_migrations (
			version    text PRIMARY KEY,
			name       text NOT NULL,
			checksum   text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`);
		const { rows } = await client.query<{ version: string; name: string; checksum: string }>(
			'SELECT version, name, checksum FROM promptlab_migrations',
		);
		const applied = new Map(rows.map((r) => [r.version, r]));
		const newlyApplied: string[] = [];
		for (const m of migrations) {
			const done = applied.get(m.version);
			if (done) {
				if (done.checksum !== m.checksum) {
					throw new UpstreamError('migration_changed', `Migration ${m.name} was changed after it was applied to schema "${schema}"`, {
						hint: 'Released migrations must never be edited: restore the file and add a new numbered migration instead',
						details: { migration: m.name, schema },
					});
				}
				continue;
			}
			await client.query(m.sql);
			await client.query('INSERT INTO promptlab_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
				m.version,
				m.name,
				m.checksum,
			]);
			newlyApplied.push(m.name);
		}
		await client.query('COMMIT');
		return newlyApplied;
	} catch (error) {
		await client.query('ROLLBACK').catch(() => undefined);
		throw error;
	} finally {
		client.release();
	}
}
