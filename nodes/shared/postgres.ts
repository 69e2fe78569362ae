import type {
	ICredentialDataDecryptedObject,
	ICredentialTestFunctions,
	ICredentialsDecrypted,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeCredentialTestResult,
} from 'n8n-workflow';
import { Client, type Pool } from 'pg';

import { parsePostgresConfig, type PostgresConfig } from '../../lib/db/config';
import { getPool } from '../../lib/db/pool';

export const POSTGRES_CREDENTIAL = 'promptLabPostgres';

export function postgresConfigFromCredential(data: ICredentialDataDecryptedObject): PostgresConfig {
	return parsePostgresConfig(data);
}

/** The migrated pool for the node's PromptLab Postgres credential. */
export async function promptLabPool(this: IExecuteFunctions | ILoadOptionsFunctions): Promise<Pool> {
	const data = await this.getCredentials(POSTGRES_CREDENTIAL);
	return getPool(postgresConfigFromCredential(data));
}

/** Editor "Test" button: connect, check the server version and whether the schema exists yet. */
export async function promptLabPostgresConnectionTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	let config: PostgresConfig;
	try {
		config = postgresConfigFromCredential(credential.data ?? {});
	} catch (error) {
		return { status: 'Error', message: (error as Error).message };
	}
	const client = new Client({
		host: config.host,
		port: config.port,
		database: config.database,
		user: config.user,
		password: config.password,
		ssl: config.ssl === 'disable' ? false : { rejectUnauthorized: config.ssl === 'verify-full' && !config.allowUnauthorizedCerts },
		connectionTimeoutMillis: 10_000,
	});
	try {
		await client.connect();
		const { rows } = await client.query<{ version: string; has_schema: boolean }>(
			'SELECT current_setting($1) AS version, EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2) AS has_schema',
			['server_version', config.schema],
		);
		const schemaNote = rows[0].has_schema
			? `schema "${config.schema}" exists`
			: `schema "${config.schema}" will be created on first use`;
		return { status: 'OK', message: `Connected to PostgreSQL ${rows[0].version}; ${schemaNote}` };
	} catch (error) {
		const e = error as NodeJS.ErrnoException & { code?: string };
		const hint =
			e.code === 'ECONNREFUSED'
				? ` (nothing listens on ${config.host}:${config.port}: check Host and Port)`
				: e.code === '28P01' || e.code === '28000'
					? ' (check User and Password)'
					: e.code === '3D000'
						? ' (the database does not exist: check Database)'
						: '';
		return { status: 'Error', message: `${e.message}${hint}` };
	} finally {
		await client.end().catch(() => undefined);
	}
}
