import type { RunningPostgres } from '../../dev/postgres';

export default async function globalTeardown(): Promise<void> {
	const server = (globalThis as { __PROMPTLAB_PG__?: RunningPostgres }).__PROMPTLAB_PG__;
	await server?.stop();
}
