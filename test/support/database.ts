import { randomBytes } from 'node:crypto';

import { Client } from 'pg';

import { postgresConfigFromUrl, type PostgresConfig } from '../../lib/db/config';
import { closeAllPools } from '../../lib/db/pool';

export interface TestDatabase {
	config: PostgresConfig;
	url: string;
	drop(): Promise<void>;
}

function adminUrl(): string {
	const url = process.env.DATABASE_URL;
	if (!url) throw new Error('DATABASE_URL is not set: run tests through jest (test/support/global-setup.ts)');
	return url;
}

/** A fresh, empty database for one test file, dropped at the end. */
export async function createTestDatabase(schema = 'promptlab'): Promise<TestDatabase> {
	const admin = new Client({ connectionString: adminUrl() });
	await admin.connect();
	const name = `pl_test_${randomBytes(6).toString('hex')}`;
	try {
		await admin.query(`CREATE DATABASE ${name}`);
	} finally {
		await admin.end();
	}
	const u = new URL(adminUrl());
	u.pathname = `/${name}`;
	const url = u.toString();
	return {
		url,
		config: postgresConfigFromUrl(url, { schema, maxPoolSize: 20 }),
		drop: async () => {
			await closeAllPools();
			const c = new Client({ connectionString: adminUrl() });
			await c.connect();
			try {
				await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
			} finally {
				await c.end();
			}
		},
	};
}
