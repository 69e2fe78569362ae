/**
 * One real n8n per e2e test file: fresh databases (n8n's own + PromptLab data) on the run's
 * Postgres, a temporary N8N_USER_FOLDER with the packed package installed as a community package,
 * owner + credentials + the given workflows published. Logs stay in .n8n-local/e2e-logs/.
 * It runs with the environment `npm start` gives n8n (scripts/n8n/instance.ts n8nEnvironment),
 * so NODE_ENV=production (no stack traces in n8n's own answers) and N8N_PAYLOAD_SIZE_MAX =
 * PAYLOAD_SIZE_MAX_MIB; `env` overrides either for a test.
 *
 *   const n8n = await startE2eN8n({ name: 'smoke', workflows: [fixture('echo.workflow.json')] });
 *   afterAll(() => n8n.stop());
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

import { LOCAL_DIR, REPO_ROOT } from '../../scripts/n8n/paths';
import type { OwnerAccount } from '../../scripts/n8n/rest';
import { dropDatabase, startStack, type ExtraCredential, type RunningStack } from '../../scripts/n8n/stack';
import type { WebhookEndpoint } from '../../scripts/n8n/workflows';
import { startComfySim, type ComfySim, type ComfySimOptions } from '../../dev/comfyui-sim';
import { freePort } from '../../dev/postgres';
import { requireRedis } from './redis';
import { startSmtpSink, type SmtpSink, type SmtpSinkOptions } from './smtp-sink';

export const E2E_OWNER: OwnerAccount = {
	email: 'owner@promptlab.test',
	password: 'PromptLab-e2e-1',
	firstName: 'E2E',
	lastName: 'Owner',
};

export function fixture(name: string): string {
	return join(REPO_ROOT, 'e2e', 'fixtures', name);
}

/** Name of the SMTP credential created with `smtp: true` (type `smtp`, pointing at the sink). */
export const E2E_SMTP_CREDENTIAL = 'PromptLab SMTP (e2e sink)';

export interface WebhookCall {
	/** Default: the method the webhook node listens on. */
	method?: string;
	query?: Record<string, string>;
	headers?: Record<string, string>;
	/** Sent as JSON (content-type application/json) unless `rawBody` is given. */
	body?: unknown;
	/** Sent as it is, with the content-type from `headers` (default text/plain). */
	rawBody?: string | Buffer;
	timeoutMs?: number;
}

export interface WebhookAnswer {
	status: number;
	headers: Headers;
	/** Parsed JSON when the answer is JSON, else the text. */
	body: unknown;
	text: string;
}

export interface E2eN8n extends RunningStack {
	/** The ComfyUI simulator the ComfyUI credential points at, when `simulator` was asked for. */
	sim?: ComfySim;
	/** Every simulator of the credential's pool (`sims[0]` is `sim`, the Base URL). */
	sims: ComfySim[];
	/** The SMTP sink the `smtp` credential points at, when `smtp` was asked for. */
	smtp?: SmtpSink;
	/** postgres:// URL of the PromptLab data database (what the credential points at). */
	dataDatabaseUrl: string;
	n8nDatabase: string;
	userFolder: string;
	logDir: string;
	/** The production webhook of the given path (throws if no published workflow has it). */
	webhook(path: string): WebhookEndpoint;
	/** POST JSON to a production webhook; returns status and parsed body. */
	postWebhook(path: string, body: unknown): Promise<{ status: number; body: unknown }>;
	/** Any request to a production webhook (method, query, headers, JSON or raw body). */
	callWebhook(path: string, call?: WebhookCall): Promise<WebhookAnswer>;
	/** The newest execution of a workflow, with its stored run data (n8n's "flatted" JSON text). */
	latestExecution(workflowId: string): Promise<{ id: string; status: string; data: string }>;
	/** Runs SQL against the PromptLab data database. */
	queryData<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
	/** Runs SQL against n8n's own database (execution_entity, workflow_entity, ...). */
	queryN8n<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface E2eN8nOptions {
	/** Short label for database names and the log folder. */
	name: string;
	workflows?: string[];
	/** Queue mode with this many workers (Redis at REDIS_HOST/REDIS_PORT, default 127.0.0.1:6379). */
	queueWorkers?: number;
	/** URL for the ComfyUI credential (default COMFYUI_URL or http://127.0.0.1:8188). */
	comfyUiUrl?: string;
	/** Start a ComfyUI simulator for this n8n (stopped with it); the credential points at it. */
	simulator?: boolean | ComfySimOptions;
	/** With `simulator`: this many simulators, all in the ComfyUI credential (a server pool). Default 1. */
	simulatorPool?: number;
	/** Start an SMTP sink and create an `smtp` credential for it (named E2E_SMTP_CREDENTIAL). */
	smtp?: boolean | SmtpSinkOptions;
	/** More credentials to create; workflow nodes using their types are bound to them. */
	credentials?: ExtraCredential[];
	env?: Record<string, string>;
}

async function runSql<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[]): Promise<T[]> {
	const client = new Client({ connectionString: url });
	await client.connect();
	try {
		return (await client.query<T>(sql, params)).rows;
	} finally {
		await client.end();
	}
}

export async function startE2eN8n(options: E2eN8nOptions): Promise<E2eN8n> {
	const adminUrl = process.env.DATABASE_URL;
	const tarball = process.env.PROMPTLAB_E2E_TARBALL;
	if (!adminUrl || !tarball) {
		throw new Error('DATABASE_URL / PROMPTLAB_E2E_TARBALL unset: run e2e tests with `npm run test:e2e` (jest -c jest.e2e.config.js)');
	}
	if (options.queueWorkers) await requireRedis(process.env.REDIS_HOST ?? '127.0.0.1', Number(process.env.REDIS_PORT ?? 6379));
	const suffix = randomBytes(4).toString('hex');
	const label = options.name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 20);
	const n8nDatabase = `e2e_n8n_${label}_${suffix}`;
	const dataDatabase = `e2e_pl_${label}_${suffix}`;
	const userFolder = mkdtempSync(join(tmpdir(), `promptlab-e2e-${label}-`));
	const logDir = join(LOCAL_DIR, 'e2e-logs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${label}`);
	const port = await freePort();
	const sims: ComfySim[] = [];
	let smtp: SmtpSink | undefined;
	const stopHelpers = async () => {
		await Promise.all(sims.map((s) => s.stop()));
		await smtp?.stop();
	};
	let stack: RunningStack;
	try {
		if (options.simulator) {
			for (let n = 0; n < Math.max(1, options.simulatorPool ?? 1); n++) {
				sims.push(await startComfySim({ nodeTimeMs: 20, ...(typeof options.simulator === 'object' ? options.simulator : {}) }));
			}
		}
		const extraCredentials: ExtraCredential[] = [...(options.credentials ?? [])];
		if (options.smtp) {
			const sinkOptions = typeof options.smtp === 'object' ? options.smtp : {};
			smtp = await startSmtpSink(sinkOptions);
			extraCredentials.push({
				name: E2E_SMTP_CREDENTIAL,
				type: 'smtp',
				data: {
					host: smtp.host,
					port: smtp.port,
					secure: false,
					disableStartTls: true,
					user: sinkOptions.credentials?.user ?? '',
					password: sinkOptions.credentials?.password ?? '',
				},
			});
		}
		stack = await startStack({
			adminDatabaseUrl: adminUrl,
			n8nDatabase,
			dataDatabase,
			userFolder,
			port,
			encryptionKey: randomBytes(24).toString('hex'),
			owner: E2E_OWNER,
			tarball,
			workflows: options.workflows ?? [],
			comfyUiUrl: sims[0]?.url ?? options.comfyUiUrl ?? process.env.COMFYUI_URL ?? 'http://127.0.0.1:8188',
			comfyUiAdditionalUrls: sims.slice(1).map((s) => s.url),
			extraCredentials,
			queue: options.queueWorkers
				? {
						workers: options.queueWorkers,
						redisHost: process.env.REDIS_HOST ?? '127.0.0.1',
						redisPort: Number(process.env.REDIS_PORT ?? 6379),
						prefix: `promptlab-e2e-${suffix}`,
					}
				: undefined,
			logDir,
			env: options.env,
		});
	} catch (error) {
		await stopHelpers();
		rmSync(userFolder, { recursive: true, force: true });
		await dropDatabase(adminUrl, n8nDatabase).catch(() => undefined);
		await dropDatabase(adminUrl, dataDatabase).catch(() => undefined);
		throw error;
	}
	const dataUrl = new URL(adminUrl);
	dataUrl.pathname = `/${dataDatabase}`;
	const dataDatabaseUrl = dataUrl.toString();
	const n8nUrl = new URL(adminUrl);
	n8nUrl.pathname = `/${n8nDatabase}`;
	const n8nDatabaseUrl = n8nUrl.toString();

	const webhook = (path: string): WebhookEndpoint => {
		const found = stack.workflows.flatMap((w) => (w.active ? w.webhooks : [])).find((h) => h.path === path);
		if (!found) {
			const problems = stack.workflows.filter((w) => w.activationError).map((w) => `${w.name}: ${w.activationError}`);
			throw new Error(`No published webhook "${path}"${problems.length ? `; publish errors: ${problems.join('; ')}` : ''}`);
		}
		return found;
	};

	const callWebhook = async (path: string, call: WebhookCall = {}): Promise<WebhookAnswer> => {
		const hook = webhook(path);
		const url = new URL(hook.url);
		for (const [key, value] of Object.entries(call.query ?? {})) url.searchParams.set(key, value);
		const headers: Record<string, string> = { ...(call.headers ?? {}) };
		let body: string | Buffer | undefined;
		if (call.rawBody !== undefined) {
			body = call.rawBody;
			headers['content-type'] ??= 'text/plain';
		} else if (call.body !== undefined) {
			body = JSON.stringify(call.body);
			headers['content-type'] ??= 'application/json';
		}
		const response = await fetch(url, {
			method: call.method ?? hook.method,
			headers,
			body,
			signal: AbortSignal.timeout(call.timeoutMs ?? 120_000),
		});
		const text = await response.text();
		let parsed: unknown = text;
		try {
			parsed = JSON.parse(text);
		} catch {
			// not JSON: keep the text
		}
		return { status: response.status, headers: response.headers, body: parsed, text };
	};

	return {
		...stack,
		sim: sims[0],
		sims,
		smtp,
		dataDatabaseUrl,
		n8nDatabase,
		userFolder,
		logDir,
		webhook,
		postWebhook: async (path, body) => {
			const { status, body: parsed } = await callWebhook(path, { body });
			return { status, body: parsed };
		},
		callWebhook,
		latestExecution: async (workflowId) => {
			const [newest] = await stack.client.listExecutions(workflowId);
			if (!newest) throw new Error(`workflow ${workflowId} has no executions`);
			const detail = await stack.client.request<{ id: string; status: string; data: string }>('GET', `/rest/executions/${newest.id}`);
			return { id: detail.id, status: detail.status, data: detail.data };
		},
		queryData: async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => runSql<T>(dataDatabaseUrl, sql, params),
		queryN8n: async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => runSql<T>(n8nDatabaseUrl, sql, params),
		stop: async () => {
			await stack.stop();
			await stopHelpers();
			rmSync(userFolder, { recursive: true, force: true });
			if (process.env.PROMPTLAB_E2E_KEEP_DATABASES !== '1') {
				await dropDatabase(adminUrl, n8nDatabase);
				await dropDatabase(adminUrl, dataDatabase);
			}
		},
	};
}
