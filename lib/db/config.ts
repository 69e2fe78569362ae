import { createHash } from 'node:crypto';
import { z } from 'zod';

import { UpstreamError } from '../errors';

/** Schema names are interpolated into `SET search_path`/`CREATE SCHEMA`, so they are whitelisted. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const postgresConfigSchema = z.object({
	host: z.string().trim().min(1, 'Host is required'),
	port: z.coerce.number().int().min(1).max(65535).default(5432),
	database: z.string().trim().min(1, 'Database is required'),
	user: z.string().trim().min(1, 'User is required'),
	password: z.string().default(''),
	ssl: z.enum(['disable', 'allow', 'require', 'verify-full']).default('disable'),
	allowUnauthorizedCerts: z.boolean().default(false),
	schema: z
		.string()
		.trim()
		.default('promptlab')
		.refine((s) => SCHEMA_NAME.test(s), {
			message: 'Schema must be lower-case letters, digits and underscores (e.g. "promptlab")',
		}),
	maxPoolSize: z.coerce.number().int().min(1).max(100).default(10),
});

export type PostgresConfig = z.infer<typeof postgresConfigSchema>;
export type PostgresConfigInput = z.input<typeof postgresConfigSchema>;

/**
 * Validates credential data; the error lists each bad field by name. A bad credential is the
 * server's configuration, not the caller's input: code database_credential_invalid (503), with the
 * credential fields in details (there is no input `field` a caller could change).
 */
export function parsePostgresConfig(input: unknown): PostgresConfig {
	const result = postgresConfigSchema.safeParse(input);
	if (!result.success) {
		const problems = result.error.issues.map((i) => ({ credentialField: i.path.join('.') || 'credential', message: i.message }));
		throw new UpstreamError(
			'database_credential_invalid',
			`Invalid PromptLab Postgres credential: ${problems.map((p) => `${p.credentialField}: ${p.message}`).join('; ')}`,
			{ hint: 'Fix the PromptLab Postgres credential in n8n', details: { problems } },
		);
	}
	return result.data;
}

/** postgres://user:pass@host:port/db?schema=x&ssl=require → PostgresConfig (tests, scripts, e2e). */
export function postgresConfigFromUrl(url: string, overrides: Partial<PostgresConfigInput> = {}): PostgresConfig {
	const u = new URL(url);
	return parsePostgresConfig({
		host: decodeURIComponent(u.hostname) || '127.0.0.1',
		port: u.port || 5432,
		database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
		user: decodeURIComponent(u.username) || 'postgres',
		password: decodeURIComponent(u.password),
		ssl: (u.searchParams.get('sslmode') as PostgresConfig['ssl'] | null) ?? undefined,
		schema: u.searchParams.get('schema') ?? undefined,
		...overrides,
	});
}

/** Stable key for the per-process pool cache: same credential data → same pool. */
export function configKey(config: PostgresConfig): string {
	const ordered = Object.keys(config)
		.sort()
		.map((k) => [k, config[k as keyof PostgresConfig]]);
	return createHash('sha256').update(JSON.stringify(ordered)).digest('hex');
}
