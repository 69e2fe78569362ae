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

/**
 * Editor "Test" button: connect, and check that the user may create and migrate the schema, as the
 * first node run will (the migrator runs CREATE SCHEMA IF NOT EXISTS, which needs CREATE on the
 * database even when the schema exists, and creates tables in the schema).
 *
 * n8n's editor shows only "Connection tested successfully" for an OK result and never its message,
 * so everything a user must act on is an Error; the OK message (server version, schema state)
 * only reaches callers of n8n's credential-test REST endpoint.
 */
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
		const { rows } = await client.query<{
			version: string;
			user_name: string;
			database_name: string;
			has_schema: boolean;
			may_create_in_database: boolean;
			may_use_schema: boolean;
		}>(
			`SELECT current_setting('server_version') AS version, current_user AS user_name, current_database() AS database_name,
				n.oid IS NOT NULL AS has_schema,
				has_database_privilege(current_database(), 'CREATE') AS may_create_in_database,
				n.oid IS NULL OR (has_schema_privilege(n.oid, 'USAGE') AND has_schema_privilege(n.oid, 'CREATE')) AS may_use_schema
			 FROM (SELECT 1) AS one LEFT JOIN pg_namespace n ON n.nspname = $1`,
			[config.schema],
		);
		const r = rows[0];
		if (!r.may_create_in_database) {
			return {
				status: 'Error',
				message: `Connected, but user "${r.user_name}" may not create schemas in database "${r.database_name}", which the first run needs to set up schema "${config.schema}" (run GRANT CREATE ON DATABASE ${r.database_name} TO ${r.user_name})`,
			};
		}
		if (!r.may_use_schema) {
			return {
				status: 'Error',
				message: `Connected, but user "${r.user_name}" lacks USAGE or CREATE on schema "${config.schema}" (run GRANT USAGE, CREATE ON SCHEMA ${config.schema} TO ${r.user_name}, or choose another Schema)`,
			};
		}
		const schemaNote = r.has_schema ? `schema "${config.schema}" exists` : `schema "${config.schema}" will be created on first use`;
		return { status: 'OK', message: `Connected to PostgreSQL ${r.version}; ${schemaNote}` };
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
