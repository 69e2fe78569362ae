/**
 * Once per e2e run: Postgres (DATABASE_URL or embedded), the pinned n8n (installed on first use,
 * cached in .n8n-local/n8n), and this package built and packed like a release. Test files then
 * start their own n8n on fresh databases (e2e/support/n8n.ts).
 */
import { ensureN8nInstalled } from '../../scripts/n8n/install';
import { buildPackage, packPackage } from '../../scripts/n8n/package';
import { startPostgres, type RunningPostgres } from '../../test/support/postgres-server';

export default async function globalSetup(): Promise<void> {
	const say = (message: string) => process.stdout.write(`[e2e setup] ${message}\n`);
	const started = Date.now();
	const server = await startPostgres();
	process.env.DATABASE_URL = server.url;
	(globalThis as { __PROMPTLAB_E2E_PG__?: RunningPostgres }).__PROMPTLAB_E2E_PG__ = server;
	const installation = await ensureN8nInstalled({ log: say });
	// PROMPTLAB_E2E_SKIP_BUILD=1: test the dist/ that is already there (e.g. while a colleague's
	// half-written node does not compile).
	const build = process.env.PROMPTLAB_E2E_SKIP_BUILD === '1' ? { built: false, seconds: 0 } : await buildPackage({ log: say });
	const tarball = await packPackage();
	process.env.PROMPTLAB_E2E_TARBALL = tarball;
	say(
		`ready in ${Math.round((Date.now() - started) / 100) / 10} s: Postgres ${server.embedded ? 'embedded' : 'from DATABASE_URL'}, ` +
			`n8n ${installation.version} ${installation.installedNow ? `installed in ${installation.seconds} s` : 'cached'}, ` +
			`package ${build.built ? `built in ${build.seconds} s` : 'unchanged'} and packed`,
	);
}
