/**
 * Installs the pinned n8n into .n8n-local/n8n/ once; later runs reuse it.
 *
 * Why these npm flags:
 * - `overrides.xlsx`: n8n's default xlsx dependency points at a CDN tarball that is unreachable
 *   from CI; the registry's xlsx@0.18.5 is the same library.
 * - `--ignore-scripts`: install scripts would try to download prebuilt native binaries (sqlite3,
 *   @sentry/*-profiler, cpu-features, msgpackr-extract), which fails offline. n8n 2.8.4 needs none of
 *   them at startup with Postgres as its database (verified: it boots, runs workflows and the JS
 *   task runner without any native build); sqlite3 is only required for DB_TYPE=sqlite.
 *
 * Run directly: `npx ts-node --transpile-only scripts/n8n/install.ts [--force]`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { LOCAL_DIR, N8N_INSTALL_DIR, N8N_VERSION } from './paths';
import { run, seconds, silentLog, withFileLock, type Log } from './proc';

export interface N8nInstallation {
	/** Folder that holds node_modules/n8n. */
	dir: string;
	/** The n8n CLI entry (run it with `node <bin> start|worker|...`). */
	bin: string;
	version: string;
	/** True when this call ran npm install; false when an earlier install was reused. */
	installedNow: boolean;
	/** Seconds this call spent (install, or just the check). */
	seconds: number;
	/** Seconds the install took when it happened (recorded in install-info.json). */
	installSeconds?: number;
}

interface InstallInfo {
	version: string;
	installedAt: string;
	seconds: number;
	node: string;
}

const INFO_FILE = 'install-info.json';

function installedVersion(dir: string): string | undefined {
	const pkg = join(dir, 'node_modules', 'n8n', 'package.json');
	if (!existsSync(pkg) || !existsSync(join(dir, INFO_FILE))) return undefined;
	try {
		const info = JSON.parse(readFileSync(join(dir, INFO_FILE), 'utf8')) as InstallInfo;
		const actual = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
		// The info file is written last, so a half-finished install never counts as installed.
		return info.version === actual ? actual : undefined;
	} catch {
		return undefined;
	}
}

function readInfo(dir: string): InstallInfo | undefined {
	try {
		return JSON.parse(readFileSync(join(dir, INFO_FILE), 'utf8')) as InstallInfo;
	} catch {
		return undefined;
	}
}

export async function ensureN8nInstalled(
	options: { version?: string; dir?: string; force?: boolean; log?: Log } = {},
): Promise<N8nInstallation> {
	const version = options.version ?? N8N_VERSION;
	const dir = options.dir ?? N8N_INSTALL_DIR;
	const log = options.log ?? silentLog;
	const started = Date.now();
	const result = (installedNow: boolean): N8nInstallation => ({
		dir,
		bin: join(dir, 'node_modules', 'n8n', 'bin', 'n8n'),
		version,
		installedNow,
		seconds: seconds(started),
		installSeconds: readInfo(dir)?.seconds,
	});
	if (!options.force && installedVersion(dir) === version) return result(false);

	return withFileLock(
		join(LOCAL_DIR, 'n8n-install.lock'),
		async () => {
			// Another process may have finished the install while we waited for the lock.
			if (!options.force && installedVersion(dir) === version) return result(false);
			log(`installing n8n@${version} into ${dir} (first run only; takes about 2 minutes)`);
			const installStarted = Date.now();
			rmSync(join(dir, INFO_FILE), { force: true });
			if (existsSync(join(dir, 'node_modules', 'n8n')) && installedVersion(dir) !== version) {
				// A different version is installed: start clean rather than let npm merge trees.
				rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
				rmSync(join(dir, 'package-lock.json'), { force: true });
			}
			mkdirSync(dir, { recursive: true });
			writeFileSync(
				join(dir, 'package.json'),
				`${JSON.stringify(
					{
						name: 'promptlab-n8n-runtime',
						private: true,
						description: 'The real n8n used by `npm start` and the e2e tests of n8n-nodes-promptlab',
						dependencies: { n8n: version },
						overrides: { xlsx: '0.18.5' },
					},
					null,
					2,
				)}\n`,
			);
			// Same settings for anyone who later runs npm by hand in this folder.
			writeFileSync(join(dir, '.npmrc'), 'ignore-scripts=true\naudit=false\nfund=false\nupdate-notifier=false\n');
			await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
				cwd: dir,
				echo: (line) => log(`npm: ${line}`),
			});
			const actual = (JSON.parse(readFileSync(join(dir, 'node_modules', 'n8n', 'package.json'), 'utf8')) as { version: string })
				.version;
			if (actual !== version) throw new Error(`npm installed n8n@${actual}, expected ${version}`);
			const info: InstallInfo = {
				version,
				installedAt: new Date().toISOString(),
				seconds: seconds(installStarted),
				node: process.version,
			};
			writeFileSync(join(dir, INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
			log(`n8n@${version} installed in ${info.seconds} s`);
			return result(true);
		},
		log,
	);
}

if (require.main === module) {
	ensureN8nInstalled({ force: process.argv.includes('--force'), log: (m) => console.log(`[n8n-install] ${m}`) })
		.then((installation) => {
			console.log(
				installation.installedNow
					? `[n8n-install] n8n ${installation.version} installed in ${installation.seconds} s`
					: `[n8n-install] n8n ${installation.version} already installed (install took ${installation.installSeconds ?? '?'} s); check ${installation.seconds} s`,
			);
		})
		.catch((error: unknown) => {
			console.error(error);
			process.exit(1);
		});
}
