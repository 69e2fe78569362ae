/**
 * Refresh of the precomputed neighbour table: on demand (Refresh Similarities, a nightly
 * schedule) and automatically from For User when the table is stale.
 */
import type { Pool } from 'pg';

import { getSimilarityState, rebuildNeighbors, type RefreshParameters, type RefreshResult, type SimilarityState } from '../db/recommendations';
import { refreshSimilaritiesInput, type RefreshOptions } from './inputs';

export type { RefreshOptions, RefreshResult, SimilarityState };
export { getSimilarityState };

function refreshParameters(options: Omit<RefreshOptions, 'skipIfBusy'>): RefreshParameters {
	return {
		similarity: options.similarity ?? 'cooccurrence',
		neighborsPerTemplate: options.neighborsPerTemplate ?? 50,
		contentNeighborsPerTemplate: options.contentNeighborsPerTemplate ?? 20,
		minCoRaters: options.minCoRaters ?? 2,
		shrinkage: options.shrinkage ?? 10,
		contentWeight: options.contentWeight ?? 0.1,
		maxRatingsPerUser: options.maxRatingsPerUser ?? 50,
		maxFeatureShare: options.maxFeatureShare ?? 0.2,
	};
}

/**
 * Rebuilds template_neighbors in one transaction under an advisory lock, so concurrent refreshes
 * run one after the other; with `skipIfBusy` a refresh that finds another one running returns at
 * once (refreshed: false). Deterministic: the same data gives the same rows.
 */
export async function refreshSimilarities(pool: Pool, input: RefreshOptions = {}): Promise<RefreshResult> {
	const { skipIfBusy, ...options } = refreshSimilaritiesInput.parse(input);
	return rebuildNeighbors(pool, refreshParameters(options), skipIfBusy === true);
}

/** In-flight background refreshes of this process, per pool (a cache: losing it costs nothing). */
const backgroundRefreshes = new WeakMap<Pool, Promise<unknown>>();

/**
 * Makes sure neighbours exist and are not older than `maxAgeHours` (validated by the caller's
 * schema): built synchronously the first time (waiting for a worker that is already building
 * them), rebuilt in the background when stale; 0 never refreshes.
 */
export async function ensureFreshSimilarities(pool: Pool, maxAgeHours: number, options: Omit<RefreshOptions, 'skipIfBusy'> = {}): Promise<SimilarityState | null> {
	const state = await getSimilarityState(pool);
	if (maxAgeHours === 0) return state;
	const parameters = refreshParameters(options);
	if (!state) {
		await rebuildNeighbors(pool, parameters);
		return getSimilarityState(pool);
	}
	const ageMs = Date.now() - new Date(state.refreshedAt).getTime();
	if (ageMs > maxAgeHours * 3_600_000 && !backgroundRefreshes.has(pool)) {
		const running = rebuildNeighbors(pool, parameters, true)
			.catch(() => undefined) // a failed background refresh leaves the current neighbours in place
			.finally(() => backgroundRefreshes.delete(pool));
		backgroundRefreshes.set(pool, running);
	}
	return state;
}

/** Waits for this process's background refresh of `pool`, if any (tests, scripts, shutdown). */
export async function waitForBackgroundRefresh(pool: Pool): Promise<void> {
	await backgroundRefreshes.get(pool);
}
