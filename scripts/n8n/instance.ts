/**
 * Starts and stops real n8n processes: the main process (`n8n start`) and, for queue mode,
 * workers (`n8n worker`). Each process gets an explicit environment so two stacks (e.g. `npm start`
 * and an e2e run) can share one machine, one Postgres and one Redis without meeting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { sleep, type Log } from './proc';

export interface N8nDatabase {
	host: string;
	port: number;
	database: string;
	user: string;
	password: string;
}

export interface QueueSettings {
	redisHost: string;
	redisPort: number;
	redisDb?: number;
	/** Bull key prefix: stacks sharing one Redis must not pick up each other's jobs. */
	prefix: string;
}

export interface N8nProcessOptions {
	/** The n8n CLI entry, `ensureN8nInstalled().bin`. */
	bin: string;
	role: 'main' | 'worker';
	/** N8N_USER_FOLDER: n8n keeps `.n8n/` (settings, community nodes, binary data) under it. */
	userFolder: string;
	/** Main: the HTTP port (editor, REST, webhooks). Worker: its health-check server port. */
	port: number;
	/** Port of the task-runner broker this process starts (one per process, must be free). */
	runnerBrokerPort: number;
	database: N8nDatabase;
	/** Fixed per stack: main and every worker must share it, and restarts must reuse it. */
	encryptionKey: string;
	/** Set for queue mode (EXECUTIONS_MODE=queue) on main and workers. */
	queue?: QueueSettings;
	/** Address to listen on; default 127.0.0.1. */
	listenAddress?: string;
	/** Public base URL n8n puts into webhook and resume URLs; default http://127.0.0.1:<port>/. */
	publicUrl?: string;
	workerConcurrency?: number;
	/** Extra or overriding environment variables. */
	env?: Record<string, string>;
	/** n8n's stdout/stderr are appended here. */
	logFile: string;
	/** Also hand each log line to this function (e.g. to print with a prefix). */
	echo?: Log;
	readyTimeoutMs?: number;
}

export interface N8nProcess {
	role: 'main' | 'worker';
	pid: number;
	port: number;
	/** Main: the editor/REST/webhook base URL without trailing slash. Worker: its health server. */
	baseUrl: string;
	logFile: string;
	/** Seconds from spawn until ready. */
	startupSeconds: number;
	/** The last lines n8n printed (for error messages). */
	logTail(lines?: number): string;
	/** Settles when the process exits (for whatever reason), with its exit code or signal. */
	exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	/** Graceful stop (SIGTERM, then SIGKILL of the whole process group after the grace period). */
	stop(): Promise<void>;
}

/**
 * N8N_PAYLOAD_SIZE_MAX of every PromptLab n8n (`npm start`, e2e) unless the environment sets it:
 * 2 MiB is 8× the largest body a shipped workflow accepts and leaves room for editor saves with
 * pinned data, while n8n no longer parses 16 MiB of JSON for any caller.
 */
export const PAYLOAD_SIZE_MAX_MIB = 2;

/** The environment every PromptLab n8n process runs with (see DESIGN.md "Real parts"). */
export function n8nEnvironment(options: N8nProcessOptions): NodeJS.ProcessEnv {
	const host = options.listenAddress ?? '127.0.0.1';
	const publicUrl = options.publicUrl ?? `http://127.0.0.1:${options.port}/`;
	const env: NodeJS.ProcessEnv = {
		...process.env,
		N8N_USER_FOLDER: options.userFolder,
		DB_TYPE: 'postgresdb',
		DB_POSTGRESDB_HOST: options.database.host,
		DB_POSTGRESDB_PORT: String(options.database.port),
		DB_POSTGRESDB_DATABASE: options.database.database,
		DB_POSTGRESDB_USER: options.database.user,
		DB_POSTGRESDB_PASSWORD: options.database.password,
		DB_POSTGRESDB_SCHEMA: 'public',
		N8N_ENCRYPTION_KEY: options.encryptionKey,
		N8N_LISTEN_ADDRESS: host,
		N8N_PROTOCOL: 'http',
		N8N_HOST: new URL(publicUrl).hostname,
		WEBHOOK_URL: publicUrl,
		N8N_EDITOR_BASE_URL: publicUrl,
		// No phoning home, no banners: CI has no internet and tests must not depend on it.
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		// Plain http on localhost: a Secure cookie would never be sent back.
		N8N_SECURE_COOKIE: 'false',
		// Community packages: loaded from <user folder>/.n8n/nodes; ours is unverified (3.0 turns
		// unverified packages off by default, so say it explicitly).
		N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
		N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
		N8N_COMMUNITY_PACKAGES_PREVENT_LOADING: 'false',
		N8N_REINSTALL_MISSING_PACKAGES: 'false',
		// Task runners (Code node only) run internally; each process needs its own broker port.
		N8N_RUNNERS_MODE: 'internal',
		N8N_RUNNERS_BROKER_PORT: String(options.runnerBrokerPort),
		N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
		N8N_LOG_OUTPUT: 'console',
		N8N_LOG_LEVEL: process.env.N8N_LOG_LEVEL ?? 'info',
		N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '15',
		// The settings file n8n writes must be 0600 in 2.x; let n8n enforce it rather than warn.
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		// n8n's own webhook error answers (malformed JSON 422, wrong method or path 404, a body above
		// the payload limit 500) carry the stack trace, with install paths, unless NODE_ENV is
		// "production" (dist/response-helper.js adds `stacktrace` when NODE_ENV is unset or
		// "development"); n8n's Docker image sets it too. It also replaces jest's NODE_ENV=test,
		// with which n8n refuses to load nodes and exits with code 1 silently.
		NODE_ENV: 'production',
		// Largest request body n8n reads, in MiB (n8n's default is 16). Above it n8n answers a 500
		// itself; the workflows' own limits (16 to 256 KiB) answer 413 payload_too_large below it.
		N8N_PAYLOAD_SIZE_MAX: process.env.N8N_PAYLOAD_SIZE_MAX ?? String(PAYLOAD_SIZE_MAX_MIB),
	};
	if (options.role === 'main') env.N8N_PORT = String(options.port);
	if (options.queue) {
		Object.assign(env, {
			EXECUTIONS_MODE: 'queue',
			QUEUE_BULL_REDIS_HOST: options.queue.redisHost,
			QUEUE_BULL_REDIS_PORT: String(options.queue.redisPort),
			QUEUE_BULL_REDIS_DB: String(options.queue.redisDb ?? 0),
			QUEUE_BULL_PREFIX: options.queue.prefix,
			// Filesystem binary data is per process; in queue mode n8n 2.x stores it in Postgres.
			N8N_DEFAULT_BINARY_DATA_MODE: 'database',
			// Manual (editor) runs go to workers too, as n8n 3.0 will always do.
			OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
		});
		if (options.role === 'worker') {
			Object.assign(env, {
				QUEUE_HEALTH_CHECK_ACTIVE: 'true',
				QUEUE_HEALTH_CHECK_PORT: String(options.port),
				N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
			});
		}
	} else {
		env.EXECUTIONS_MODE = 'regular';
	}
	for (const key of Object.keys(env)) if (key.startsWith('JEST_')) delete env[key];
	return { ...env, ...(options.env ?? {}) };
}

class LogRing {
	private readonly lines: string[] = [];

	constructor(private readonly max: number) {}

	push(line: string): void {
		this.lines.push(line);
		if (this.lines.length > this.max) this.lines.shift();
	}

	tail(count: number): string {
		return this.lines.slice(-count).join('\n');
	}
}

async function httpOk(url: string): Promise<boolean> {
	try {
		const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
		await response.arrayBuffer();
		return response.ok;
	} catch {
		return false;
	}
}

/** Spawns n8n and resolves once it serves requests (main: editor + active webhooks; worker: health). */
export async function startN8nProcess(options: N8nProcessOptions): Promise<N8nProcess> {
	const started = Date.now();
	mkdirSync(dirname(options.logFile), { recursive: true });
	mkdirSync(options.userFolder, { recursive: true });
	const logStream = createWriteStream(options.logFile, { flags: 'a' });
	logStream.write(`\n===== ${new Date().toISOString()} n8n ${options.role} on port ${options.port} =====\n`);
	const args = options.role === 'main' ? ['start'] : ['worker', `--concurrency=${options.workerConcurrency ?? 5}`];
	// Own process group: n8n spawns task-runner children, and Ctrl-C in a terminal must reach our
	// script first so it can stop things in order.
	const child: ChildProcess = spawn(process.execPath, [options.bin, ...args], {
		env: n8nEnvironment(options),
		cwd: options.userFolder,
		stdio: ['ignore', 'pipe', 'pipe'],
		detached: true,
	});
	const ring = new LogRing(400);
	const readyLine = options.role === 'main' ? 'Editor is now accessible via' : 'n8n worker is now ready';
	let sawReadyLine = false;
	let exitCode: number | null | undefined;
	let exitSignal: NodeJS.Signals | null = null;
	const exited = new Promise<void>((resolveExit) => {
		child.on('exit', (code, signal) => {
			exitCode = code;
			exitSignal = signal;
			resolveExit();
		});
	});
	// Lines can be split across chunks: keep the unfinished tail of each stream until its newline.
	const lineReader = () => {
		let pending = '';
		return (chunk: Buffer) => {
			if (!logStream.writableEnded) logStream.write(chunk);
			const lines = (pending + chunk.toString('utf8')).split('\n');
			pending = lines.pop() ?? '';
			for (const line of lines) {
				if (!line.trim()) continue;
				ring.push(line);
				if (line.includes(readyLine)) sawReadyLine = true;
				options.echo?.(line);
			}
		};
	};
	child.stdout?.on('data', lineReader());
	child.stderr?.on('data', lineReader());

	const baseUrl = `http://127.0.0.1:${options.port}`;
	const stop = async (): Promise<void> => {
		if (exitCode === undefined && child.pid) {
			try {
				process.kill(child.pid, 'SIGTERM');
			} catch {
				// already gone
			}
			let timer: NodeJS.Timeout | undefined;
			const graceful = await Promise.race([
				exited.then(() => true),
				new Promise<boolean>((resolveTimeout) => {
					timer = setTimeout(() => resolveTimeout(false), 20_000);
				}),
			]);
			clearTimeout(timer);
			if (!graceful) {
				try {
					process.kill(-child.pid, 'SIGKILL');
				} catch {
					// already gone
				}
				await exited;
			}
		}
		// The task runner is a child of n8n in the same group; make sure nothing of ours lingers.
		if (child.pid) {
			try {
				process.kill(-child.pid, 'SIGKILL');
			} catch {
				// group already empty
			}
		}
		await new Promise<void>((resolveEnd) => logStream.end(resolveEnd));
	};

	const timeoutMs = options.readyTimeoutMs ?? 240_000;
	const readyPath = options.role === 'main' ? '/rest/settings' : '/healthz/readiness';
	for (;;) {
		if (exitCode !== undefined) {
			throw new Error(
				`n8n ${options.role} exited during startup (${exitSignal ?? `code ${exitCode}`}); log ${options.logFile}:\n${ring.tail(40)}`,
			);
		}
		if (Date.now() - started > timeoutMs) {
			await stop();
			throw new Error(`n8n ${options.role} not ready after ${timeoutMs / 1000} s; log ${options.logFile}:\n${ring.tail(40)}`);
		}
		if (sawReadyLine && (await httpOk(`${baseUrl}${readyPath}`))) break;
		await sleep(250);
	}
	return {
		role: options.role,
		pid: child.pid ?? -1,
		port: options.port,
		baseUrl,
		logFile: options.logFile,
		startupSeconds: Math.round((Date.now() - started) / 100) / 10,
		logTail: (lines = 40) => ring.tail(lines),
		exited: exited.then(() => ({ code: exitCode ?? null, signal: exitSignal })),
		stop,
	};
}
