/**
 * Builds, packs and installs this repository into an n8n user folder exactly as n8n's GUI
 * "Install community node" does in n8n 2.8.4 (modules/community-packages/community-packages.service.js
 * `downloadPackage`): the tarball is unpacked into `<N8N_USER_FOLDER>/.n8n/nodes/node_modules/<name>`,
 * devDependencies/peerDependencies/optionalDependencies are stripped from its package.json, its runtime
 * dependencies (pg, undici, ws, zod) are installed inside it with `--install-strategy=shallow
 * --ignore-scripts`, and `<nodes>/package.json` records the dependency. n8n then loads it as the
 * community package `n8n-nodes-promptlab` (node types `n8n-nodes-promptlab.<name>`).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { LOCAL_DIR, PACK_DIR, REPO_ROOT } from './paths';
import { run, seconds, silentLog, withFileLock, type Log } from './proc';

export interface PackageManifest {
	name: string;
	version: string;
	n8n?: { nodes?: string[]; credentials?: string[] };
}

export function readRepoManifest(): PackageManifest {
	return JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageManifest;
}

const SOURCE_ROOTS = ['nodes', 'credentials', 'lib', 'migrations', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'gulpfile.js', 'index.js'];

function listFiles(path: string, into: string[]): void {
	if (!existsSync(path)) return;
	const info = statSync(path);
	if (info.isFile()) {
		into.push(path);
		return;
	}
	for (const entry of readdirSync(path)) listFiles(join(path, entry), into);
}

/** Hash of everything that goes into dist/; an unchanged hash means the last build is current. */
export function sourceHash(): string {
	const files: string[] = [];
	for (const root of SOURCE_ROOTS) listFiles(join(REPO_ROOT, root), files);
	const hash = createHash('sha256');
	for (const file of files.sort()) {
		hash.update(relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
	}
	return hash.digest('hex');
}

const BUILD_STAMP = join(LOCAL_DIR, 'build-stamp.json');

/**
 * `npm run build` (the lead's build: tsc + gulp → dist/) unless the sources are unchanged since the
 * last build made here and every file package.json's n8n block declares exists.
 */
export async function buildPackage(options: { force?: boolean; log?: Log } = {}): Promise<{ built: boolean; seconds: number }> {
	const log = options.log ?? silentLog;
	const started = Date.now();
	const hash = sourceHash();
	const manifest = readRepoManifest();
	const declared = [...(manifest.n8n?.nodes ?? []), ...(manifest.n8n?.credentials ?? [])];
	const distComplete = declared.every((file) => existsSync(join(REPO_ROOT, file)));
	let previous: string | undefined;
	try {
		previous = (JSON.parse(readFileSync(BUILD_STAMP, 'utf8')) as { hash: string }).hash;
	} catch {
		previous = undefined;
	}
	if (!options.force && previous === hash && distComplete) return { built: false, seconds: seconds(started) };
	log('building the package (npm run build)');
	await run('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT });
	const missing = declared.filter((file) => !existsSync(join(REPO_ROOT, file)));
	if (missing.length) {
		throw new Error(`npm run build finished but package.json's n8n block names files that do not exist: ${missing.join(', ')}`);
	}
	mkdirSync(LOCAL_DIR, { recursive: true });
	writeFileSync(BUILD_STAMP, JSON.stringify({ hash, at: new Date().toISOString() }));
	return { built: true, seconds: seconds(started) };
}

/** `npm pack` of the repository (dist/ + index.js + package.json, as published). */
export async function packPackage(options: { log?: Log } = {}): Promise<string> {
	mkdirSync(PACK_DIR, { recursive: true });
	const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', PACK_DIR], { cwd: REPO_ROOT });
	const parsed = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string }>;
	const tarball = join(PACK_DIR, parsed[0].filename);
	(options.log ?? silentLog)(`packed ${relative(REPO_ROOT, tarball)}`);
	return tarball;
}

function sha256File(path: string): string {
	return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export interface InstalledPackage {
	/** `<userFolder>/.n8n/nodes/node_modules/<name>` */
	dir: string;
	name: string;
	version: string;
	/** False when the same tarball was already installed there. */
	installedNow: boolean;
	seconds: number;
}

/**
 * Installs the tarball into n8n's community-nodes folder of `userFolder` (the N8N_USER_FOLDER; n8n
 * uses `<it>/.n8n/nodes`). Skips the work when the same tarball (by sha256) is already installed.
 */
export async function installPackageIntoN8n(
	userFolder: string,
	tarball: string,
	options: { log?: Log } = {},
): Promise<InstalledPackage> {
	const log = options.log ?? silentLog;
	const started = Date.now();
	const nodesDir = join(userFolder, '.n8n', 'nodes');
	return withFileLock(join(nodesDir, '.promptlab-install.lock'), async () => {
		mkdirSync(nodesDir, { recursive: true });
		const rootManifest = join(nodesDir, 'package.json');
		if (!existsSync(rootManifest)) {
			writeFileSync(rootManifest, JSON.stringify({ name: 'installed-nodes', private: true, dependencies: {} }, null, 2));
		}
		const tarballSha = sha256File(tarball);
		const stampFile = join(nodesDir, '.promptlab-tarball.json');
		// Read the name from the tarball's own package.json after unpacking; until then use the repo's.
		const repoManifest = readRepoManifest();
		const packageDir = join(nodesDir, 'node_modules', repoManifest.name);
		let stamp: { sha256?: string } = {};
		try {
			stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as { sha256?: string };
		} catch {
			stamp = {};
		}
		if (stamp.sha256 === tarballSha && existsSync(join(packageDir, 'package.json'))) {
			return { dir: packageDir, name: repoManifest.name, version: repoManifest.version, installedNow: false, seconds: seconds(started) };
		}
		log(`installing ${relative(REPO_ROOT, tarball)} into ${packageDir}`);
		rmSync(packageDir, { recursive: true, force: true });
		mkdirSync(packageDir, { recursive: true });
		await run('tar', ['-xzf', tarball, '-C', packageDir, '--strip-components=1'], { cwd: nodesDir });
		const manifestPath = join(packageDir, 'package.json');
		const { devDependencies, peerDependencies, optionalDependencies, ...manifest } = JSON.parse(
			readFileSync(manifestPath, 'utf8'),
		) as PackageManifest & Record<string, unknown>;
		void devDependencies;
		void peerDependencies;
		void optionalDependencies;
		writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
		await run(
			'npm',
			[
				'install',
				'--audit=false',
				'--fund=false',
				'--bin-links=false',
				'--install-strategy=shallow',
				'--ignore-scripts=true',
				'--package-lock=false',
				'--loglevel=error',
			],
			{ cwd: packageDir },
		);
		const root = JSON.parse(readFileSync(rootManifest, 'utf8')) as { dependencies?: Record<string, string> };
		root.dependencies = { ...(root.dependencies ?? {}), [manifest.name]: manifest.version };
		writeFileSync(rootManifest, JSON.stringify(root, null, 2));
		writeFileSync(stampFile, JSON.stringify({ sha256: tarballSha, tarball, at: new Date().toISOString() }));
		return { dir: packageDir, name: manifest.name, version: manifest.version, installedNow: true, seconds: seconds(started) };
	});
}
