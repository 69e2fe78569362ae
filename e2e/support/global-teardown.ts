import type { RunningPostgres } from '../../dev/postgres';

export default async function globalTeardown(): Promise<void> {
	await (globalThis as { __PROMPTLAB_E2E_PG__?: RunningPostgres }).__PROMPTLAB_E2E_PG__?.stop();
}
