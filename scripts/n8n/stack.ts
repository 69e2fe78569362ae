/**
 * One complete n8n deployment with the package: databases, main process (+ workers in queue mode),
 * owner, credentials, workflows. Used by `npm start` (scripts/start.ts) and the e2e tests
 * (e2e/support/n8n.ts) so both exercise the same path a user takes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Client } from 'pg';

import { freePort } from '../../dev/postgres';
import { ensureN8nInstalled } from './install';
import { startN8nProcess, type N8nDatabase, type N8nProcess } from './instance';
import { installPackageIntoN8n, type InstalledPackage } from './package';
import { seconds, silentLog, type Log } from './proc';
import { N8nRestClient, type CredentialSummary, type CredentialTypeDescription, type OwnerAccount } from './rest';
import { deployWorkflows, loadWorkflowFiles, type DeployedWorkflow, type PrepareWorkflow } from './workflows';

export const PACKAGE_NAME = 'n8n-nodes-promptlab';
export const POSTGRES_CREDENTIAL_TYPE = 'promptLabPostgres';
export const COMFYUI_CREDENTIAL_TYPE = 'comfyUiApi';
export const POSTGRES_CREDENTIAL_NAME = 'PromptLab Postgres';
export const COMFYUI_CREDENTIAL_NAME = 'ComfyUI';

export interface StackOptions {
	/** Postgres server URL with rights to CREATE DATABASE (its own database part is ignored). */
	adminDatabaseUrl: string;
	/** Database for n8n's own tables (created if missing). */
	n8nDatabase: string;
	/** Database the PromptLab Postgres credential points at (created if missing). */
	dataDatabase: string;
	/** Schema the credential uses inside dataDatabase (default 'promptlab'). */
	dataSchema?: string;
	/** N8N_USER_FOLDER for every process of this stack. */
	userFolder: string;
	/** Main HTTP port. */
	port: number;
	listenAddress?: string;
	/** Base URL n8n advertises (webhooks, resume URLs, editor); default http://127.0.0.1:<port>/. */
	publicUrl?: string;
	encryptionKey: string;
	owner: OwnerAccount;
	/** Package tarball to install as a community package (skipped when unset). */
	tarball?: string;
	/** Workflow files or folders to import and publish. */
	workflows: string[];
	/**
	 * JSON file remembering which file version of each workflow was imported last; unchanged
	 * workflows are then left alone (editor edits survive restarts). Unset: always import.
	 */
	importStateFile?: string;
	/** ComfyUI base URL for the ComfyUI credential. */
	comfyUiUrl: string;
	/** More ComfyUI servers for the credential's pool ("Additional Server URLs"). */
	comfyUiAdditionalUrls?: string[];
	/**
	 * Further credentials to create (or update, by name and type), e.g. an SMTP server for the
	 * weekly report. Workflow nodes that use a credential of that type are pointed at it on import.
	 */
	extraCredentials?: ExtraCredential[];
	/** Adjusts each workflow before import (e.g. report recipients from the environment). */
	prepareWorkflow?: PrepareWorkflow;
	/** Queue mode: this many `n8n worker` processes beside main, on Redis. */
	queue?: { workers: number; redisHost: string; redisPort: number; redisDb?: number; prefix: string };
	/** Where the n8n process logs go (main.log, worker-1.log, ...). */
	logDir: string;
	/** Extra env for all n8n processes. */
	env?: Record<string, string>;
	/** Receives every n8n log line with its process label. */
	echo?: (label: string, line: string) => void;
	log?: Log;
}

export interface ExtraCredential {
	name: string;
	/** n8n credential type, e.g. 'smtp' or 'httpHeaderAuth'. */
	type: string;
	data: Record<string, unknown>;
}

export interface StackTimings {
	n8nCheckOrInstall: number;
	packageInstall: number;
	mainStartup: number;
	workersStartup: number;
	setup: number;
	total: number;
}

export interface RunningStack {
	baseUrl: string;
	publicUrl: string;
	client: N8nRestClient;
	owner: OwnerAccount;
	ownerCreated: boolean;
	installedPackage?: InstalledPackage;
	/** Credentials by credential type: the ones created now, and for other types an existing one. */
	credentials: Record<string, CredentialSummary>;
	workflows: DeployedWorkflow[];
	main: N8nProcess;
	workers: N8nProcess[];
	timings: StackTimings;
	/** Stops workers, then main. Databases and the user folder stay. */
	stop(): Promise<void>;
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function databaseFromUrl(url: string, database: string): N8nDatabase {
	const u = new URL(url);
	return {
		host: decodeURIComponent(u.hostname) || '127.0.0.1',
		port: Number(u.port || 5432),
		database,
		user: decodeURIComponent(u.username) || 'postgres',
		password: decodeURIComponent(u.password),
	};
}

/** CREATE DATABASE unless it exists (names are whitelisted: they cannot be bound as parameters). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<boolean> {
	if (!DATABASE_NAME.test(name)) throw new Error(`Unsafe database name: ${name}`);
	const client = new Client({ connectionString: adminUrl });
	await client.connect();
	try {
		const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
		if (exists.rowCount) return false;
		await client.query(`CREATE DATABASE ${name}`);
		return true;
	} catch (error) {
		// 42P04 duplicate_database: created concurrently by someone else; that is fine.
		if ((error as { code?: string }).code === '42P04') return false;
		throw error;
	} finally {
		await client.end();
	}
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
	if (!DATABASE_NAME.test(name)) throw new Error(`Unsafe database name: ${name}`);
	const client = new Client({ connectionString: adminUrl });
	await client.connect();
	try {
		await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
	} finally {
		await client.end();
	}
}

/** Credential data from the credential type's own fields, so new fields keep their defaults. */
function comfyUiCredentialData(type: CredentialTypeDescription, baseUrl: string, additionalUrls: string[] = []): Record<string, unknown> {
	const data: Record<string, unknown> = {};
	const field = (name: string) => type.properties.find((p) => p.name === name);
	const urlField = ['baseUrl', 'url', 'host', 'serverUrl'].find((name) => field(name));
	data[urlField ?? 'baseUrl'] = baseUrl;
	if (additionalUrls.length > 0) {
		if (!field('additionalServers')) throw new Error('The ComfyUI credential type has no "additionalServers" field: it cannot hold a server pool');
		data.additionalServers = additionalUrls.join(', ');
	}
	const authentication = field('authentication') as { options?: Array<{ value: unknown }> } | undefined;
	if (authentication?.options?.some((o) => o.value === 'none')) data.authentication = 'none';
	return data;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
	const log = options.log ?? silentLog;
	const started = Date.now();
	const timings: StackTimings = { n8nCheckOrInstall: 0, packageInstall: 0, mainStartup: 0, workersStartup: 0, setup: 0, total: 0 };

	const installation = await ensureN8nInstalled({ log });
	timings.n8nCheckOrInstall = installation.seconds;

	let installedPackage: InstalledPackage | undefined;
	if (options.tarball) {
		installedPackage = await installPackageIntoN8n(options.userFolder, options.tarball, { log });
		timings.packageInstall = installedPackage.seconds;
	}

	await ensureDatabase(options.adminDatabaseUrl, options.n8nDatabase);
	await ensureDatabase(options.adminDatabaseUrl, options.dataDatabase);
	const database = databaseFromUrl(options.adminDatabaseUrl, options.n8nDatabase);
	const publicUrl = options.publicUrl ?? `http://127.0.0.1:${options.port}/`;
	const common = {
		bin: installation.bin,
		userFolder: options.userFolder,
		database,
		encryptionKey: options.encryptionKey,
		listenAddress: options.listenAddress,
		publicUrl,
		env: options.env,
		queue: options.queue
			? { redisHost: options.queue.redisHost, redisPort: options.queue.redisPort, redisDb: options.queue.redisDb, prefix: options.queue.prefix }
			: undefined,
	};

	log(`starting n8n ${installation.version} on port ${options.port}${options.queue ? ` (queue mode, ${options.queue.workers} workers)` : ''}`);
	const main = await startN8nProcess({
		...common,
		role: 'main',
		port: options.port,
		runnerBrokerPort: await freePort(),
		logFile: join(options.logDir, 'main.log'),
		echo: options.echo ? (line) => options.echo?.('main', line) : undefined,
	});
	timings.mainStartup = main.startupSeconds;

	const workers: N8nProcess[] = [];
	const stopAll = async () => {
		await Promise.all(workers.map((w) => w.stop()));
		await main.stop();
	};
	try {
		if (options.queue) {
			// Workers start after main: main runs the migrations, workers expect a migrated database.
			const workersStarted = Date.now();
			const started = await Promise.all(
				Array.from({ length: options.queue.workers }, async (_, index) =>
					startN8nProcess({
						...common,
						role: 'worker',
						port: await freePort(),
						runnerBrokerPort: await freePort(),
						logFile: join(options.logDir, `worker-${index + 1}.log`),
						echo: options.echo ? (line) => options.echo?.(`worker-${index + 1}`, line) : undefined,
					}),
				),
			);
			workers.push(...started);
			timings.workersStartup = seconds(workersStarted);
		}

		const setupStarted = Date.now();
		const { client, ownerCreated } = await N8nRestClient.connect(main.baseUrl, options.owner);
		const credentialTypes = await client.credentialTypes();
		const credentials: Record<string, CredentialSummary> = {};
		const typeByName = new Map(credentialTypes.map((t) => [t.name, t]));
		if (typeByName.has(POSTGRES_CREDENTIAL_TYPE)) {
			const data = databaseFromUrl(options.adminDatabaseUrl, options.dataDatabase);
			credentials[POSTGRES_CREDENTIAL_TYPE] = await client.upsertCredential(POSTGRES_CREDENTIAL_NAME, POSTGRES_CREDENTIAL_TYPE, {
				host: data.host,
				port: data.port,
				database: data.database,
				user: data.user,
				password: data.password,
				ssl: 'disable',
				allowUnauthorizedCerts: false,
				schema: options.dataSchema ?? 'promptlab',
				maxPoolSize: 10,
			});
		} else if (options.tarball) {
			log(`credential type ${POSTGRES_CREDENTIAL_TYPE} is not known to n8n: is the package loaded? (see ${main.logFile})`);
		}
		const comfyType = typeByName.get(COMFYUI_CREDENTIAL_TYPE);
		if (comfyType) {
			credentials[COMFYUI_CREDENTIAL_TYPE] = await client.upsertCredential(
				COMFYUI_CREDENTIAL_NAME,
				COMFYUI_CREDENTIAL_TYPE,
				comfyUiCredentialData(comfyType, options.comfyUiUrl, options.comfyUiAdditionalUrls),
			);
		}
		for (const extra of options.extraCredentials ?? []) {
			if (!typeByName.has(extra.type)) {
				throw new Error(`Credential "${extra.name}": n8n has no credential type "${extra.type}"`);
			}
			credentials[extra.type] = await client.upsertCredential(extra.name, extra.type, extra.data);
		}
		// Types we did not create this time (e.g. SMTP made in the editor, or by an earlier start with
		// SMTP_HOST set) keep an existing credential, so a re-import never unbinds a working one.
		const existing = (await client.listCredentials()).sort((a, b) => a.name.localeCompare(b.name));
		for (const credential of existing) {
			if (!credentials[credential.type]) credentials[credential.type] = { id: credential.id, name: credential.name, type: credential.type };
		}
		let previouslyImported: Record<string, string> | undefined;
		if (options.importStateFile) {
			try {
				previouslyImported = JSON.parse(readFileSync(options.importStateFile, 'utf8')) as Record<string, string>;
			} catch {
				previouslyImported = {};
			}
			// Another database (e.g. DATABASE_URL changed) means nothing was imported there yet.
			if (ownerCreated) previouslyImported = {};
		}
		const workflows = await deployWorkflows(client, loadWorkflowFiles(options.workflows), credentials, publicUrl, {
			log,
			previouslyImported,
			prepare: options.prepareWorkflow,
		});
		if (options.importStateFile && previouslyImported) {
			writeFileSync(options.importStateFile, `${JSON.stringify(previouslyImported, null, 2)}\n`);
		}
		timings.setup = seconds(setupStarted);
		timings.total = seconds(started);
		return {
			baseUrl: main.baseUrl,
			publicUrl,
			client,
			owner: options.owner,
			ownerCreated,
			installedPackage,
			credentials,
			workflows,
			main,
			workers,
			timings,
			stop: stopAll,
		};
	} catch (error) {
		await stopAll();
		throw error;
	}
}
