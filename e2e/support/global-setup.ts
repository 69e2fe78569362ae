/**
 * Once per e2e run: Postgres (DATABASE_URL or embedded), the pinned n8n (installed on first use,
 * cached in .n8n-local/n8n), and this package built and packed like a release. Test files then
 * start their own n8n on fresh databases (e2e/support/n8n.ts).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { ensureN8nInstalled } from '../../scripts/n8n/install';
import { buildPackage, packPackage } from '../../scripts/n8n/package';
import { LOCAL_DIR } from '../../scripts/n8n/paths';
import { startPostgres, type RunningPostgres } from '../../dev/postgres';

/** n8n logs of earlier runs (one folder per test file and run): keep the newest ones only. */
function pruneOldLogs(keep = 30): void {
	const dir = join(LOCAL_DIR, 'e2e-logs');
	if (!existsSync(dir)) return;
	const runs = readdirSync(dir).sort(); // names start with an ISO timestamp
	for (const old of runs.slice(0, Math.max(0, runs.length - keep))) rmSync(join(dir, old), { recursive: true, force: true });
}

export default async function globalSetup(): Promise<void> {
	const say = (message: string) => process.stdout.write(`[e2e setup] ${message}\n`);
	const started = Date.now();
	pruneOldLogs();
	const server = await startPostgres();
	process.env.DATABASE_URL = server.url;
	(globalThis as { __PROMPTLAB_E2E_PG__?: RunningPostgres }).__PROMPTLAB_E2E_PG__ = server;
	const installation = await ensureN8nInstalled({ log: say });
	// PROMPTLAB_E2E_SKIP_BUILD=1: test the dist/ that is already there (e.g. while a colleague's
	// half-written node does not compile).
	// PROMPTLAB_E2E_TARBALL=<file.tgz>: test that package tarball as it is (no build, no pack).
	const givenTarball = process.env.PROMPTLAB_E2E_TARBALL;
	if (givenTarball && !existsSync(givenTarball)) throw new Error(`PROMPTLAB_E2E_TARBALL=${givenTarball} does not exist`);
	const skipBuild = process.env.PROMPTLAB_E2E_SKIP_BUILD === '1' || Boolean(givenTarball);
	const build = skipBuild ? { built: false, seconds: 0 } : await buildPackage({ log: say });
	const tarball = givenTarball ?? (await packPackage());
	process.env.PROMPTLAB_E2E_TARBALL = tarball;
	// Tests then trust the tarball's own package.json rather than the repository's.
	if (givenTarball) process.env.PROMPTLAB_E2E_TARBALL_GIVEN = '1';
	say(
		`ready in ${Math.round((Date.now() - started) / 100) / 10} s: Postgres ${server.embedded ? 'embedded' : 'from DATABASE_URL'}, ` +
			`n8n ${installation.version} ${installation.installedNow ? `installed in ${installation.seconds} s` : 'cached'}, ` +
			(givenTarball
				? `package from PROMPTLAB_E2E_TARBALL (${givenTarball})`
				: `package ${skipBuild ? 'not built (PROMPTLAB_E2E_SKIP_BUILD=1)' : build.built ? `built in ${build.seconds} s` : 'unchanged'} and packed`),
	);
}
