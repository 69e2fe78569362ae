import { startPostgres } from '../../dev/postgres';

/** Starts one Postgres for the whole jest run; workers inherit DATABASE_URL. */
export default async function globalSetup(): Promise<void> {
	const server = await startPostgres();
	process.env.DATABASE_URL = server.url;
	(globalThis as { __PROMPTLAB_PG__?: typeof server }).__PROMPTLAB_PG__ = server;
}
