import { Pool } from 'pg';

import { parsePostgresConfig } from '../lib/db/config';
import { loadMigrations, migrate } from '../lib/db/migrator';
import { createTestDatabase, type TestDatabase } from './support/database';

describe('migrations', () => {
	let db: TestDatabase;
	beforeAll(async () => {
		db = await createTestDatabase();
	});
	afterAll(async () => {
		await db.drop();
	});

	test('ten pools migrating at once apply every migration exactly once', async () => {
		const pools = Array.from({ length: 10 }, () => new Pool({ connectionString: db.url, max: 2 }));
		try {
			const results = await Promise.all(pools.map((p) => migrate(p, 'concurrent')));
			const applied = results.flat();
			expect(applied).toEqual(loadMigrations().map((m) => m.name));
			const { rows } = await pools[0].query('SELECT version FROM concurrent.promptlab_migrations ORDER BY version');
			expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
			const tables = await pools[0].query(
				"SELECT table_name FROM information_schema.tables WHERE table_schema = 'concurrent' ORDER BY 1",
			);
			expect(tables.rows.map((r) => r.table_name)).toEqual(
				expect.arrayContaining([
					'templates', 'template_versions', 'template_labels', 'template_label_history', 'executions',
					'generated_assets', 'feedback', 'template_stats', 'campaigns', 'campaign_variants',
					'campaign_assignments',
				]),
			);
		} finally {
			await Promise.all(pools.map((p) => p.end()));
		}
	});

	test('a migration edited after release is refused, naming the file', async () => {
		const pool = new Pool({ connectionString: db.url, max: 1 });
		try {
			await migrate(pool, 'edited');
			await pool.query("UPDATE edited.promptlab_migrations SET checksum = 'x' WHERE version = '001'");
			const error = await migrate(pool, 'edited').catch((e: unknown) => e);
			expect(error).toMatchObject({ code: 'migration_changed', details: { migration: '001_initial_schema.sql', schema: 'edited' } });
			expect((error as Error).message).toMatch(/001_initial_schema\.sql was changed/);
		} finally {
			await pool.end();
		}
	});

	test('rejects schema names that are not plain identifiers', async () => {
		const pool = new Pool({ connectionString: db.url, max: 1 });
		try {
			await expect(migrate(pool, 'x; DROP TABLE y')).rejects.toMatchObject({
				code: 'database_credential_invalid',
				message: expect.stringMatching(/Invalid schema name/),
			});
		} finally {
			await pool.end();
		}
	});

	test('an invalid credential is database_credential_invalid (503), listing each bad field', () => {
		let error: unknown;
		try {
			parsePostgresConfig({ host: 'db', database: 'n8n', user: 'u', schema: 'Bad Schema!', port: 70000 });
		} catch (e) {
			error = e;
		}
		expect(error).toMatchObject({ code: 'database_credential_invalid', httpStatus: 503 });
		expect((error as { details: { problems: Array<{ credentialField: string }> } }).details.problems.map((p) => p.credentialField).sort()).toEqual([
			'port',
			'schema',
		]);
		expect((error as Error).message).toMatch(/Schema must be lower-case/);
	});
});
