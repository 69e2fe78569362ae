/**
 * Where the real n8n and its state live for `npm start` and the e2e tests. Everything is under
 * .n8n-local/ (gitignored) so a `git clean -fdX` resets it.
 */
import { join, resolve } from 'node:path';

/** The n8n release we run against. 2.8.x is the last line that runs on Node 20 (2.10 needs 22.16). */
export const N8N_VERSION = '2.8.4';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const LOCAL_DIR = join(REPO_ROOT, '.n8n-local');
/** n8n itself, installed with npm into a folder of its own (never a dependency of the package). */
export const N8N_INSTALL_DIR = join(LOCAL_DIR, 'n8n');
/** Packed tarballs of this repository (what `npm pack` would publish). */
export const PACK_DIR = join(LOCAL_DIR, 'pack');
/** `npm start`: n8n's user folder (settings, community nodes, binary data) survives restarts. */
export const START_USER_FOLDER = join(LOCAL_DIR, 'start', 'user');
/** `npm start`: the embedded Postgres data directory when DATABASE_URL is not set. */
export const START_PG_DATA_DIR = join(LOCAL_DIR, 'start', 'pgdata');
/** `npm start`: generated owner password and encryption key, reused by every later run. */
export const START_SECRETS_FILE = join(LOCAL_DIR, 'start', 'secrets.json');
export const WORKFLOWS_DIR = join(REPO_ROOT, 'workflows');
