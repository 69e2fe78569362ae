/**
 * Thompson-sampling allocation. The split in force lives in campaign_weights, so every worker uses
 * the same one and the SRM check knows which split each unit was drawn from. When it is older than
 * the refresh interval, one worker (advisory try-lock) recomputes it; the others keep using the
 * current one meanwhile.
 */
import type { Pool } from 'pg';

import {
	allocationPeriods,
	armCounts,
	insertAllocation,
	latestAllocation,
	lockAllocation,
	type Campaign,
	type WeightsRecord,
} from '../db/campaigns';
import { withTransaction, type Queryable } from '../db/pool';
import { seededRandom, thompsonWeights } from '../stats';

/** How often a Thompson campaign recomputes its split (one worker does it, under a lock). */
export const THOMPSON_REFRESH_MS = 10 * 60_000;
/** GrowthBook waits for 100 units per arm before a bandit adapts; smaller campaigns wait for their minimum sample. */
const THOMPSON_BURN_IN = 100;
const THOMPSON_DRAWS = 10_000;

export interface ArmAggregates {
	variantId: string;
	trials: number;
	successes: number;
}

/** The per-arm counts a Thompson allocation is computed from, matching the primary metric. */
async function armAggregates(db: Queryable, campaign: Campaign): Promise<ArmAggregates[]> {
	const counts = await armCounts(db, campaign.id);
	return counts.map((c) =>
		campaign.primaryMetric === 'success_rate'
			? { variantId: c.variantId, trials: c.finished, successes: c.succeeded }
			: // mean_rating campaigns also explore on the good-rating share: a Beta posterior needs a proportion
				{ variantId: c.variantId, trials: c.ratedUnits, successes: Math.min(c.goodShareSum, c.ratedUnits) },
	);
}

/**
 * Allocation for the next period: during burn-in (an active arm below min(100, minimum sample))
 * the configured weights; afterwards P(arm is best) by Thompson sampling with the campaign's
 * floor. Variants with weight 0 stay at 0. Deterministic for a given history (seeded draws).
 */
export function computeThompsonAllocation(
	campaign: Pick<Campaign, 'variants' | 'thompsonFloor' | 'minSamplePerVariant' | 'seed'>,
	arms: ArmAggregates[],
	period: number,
): number[] {
	const configured = campaign.variants.map((v) => v.weight);
	const active = campaign.variants.map((v, i) => ({ i, weight: v.weight, arm: arms[i] })).filter((a) => a.weight > 0);
	const burnIn = Math.min(THOMPSON_BURN_IN, campaign.minSamplePerVariant);
	if (active.length < 2 || active.some((a) => a.arm.trials < burnIn)) {
		const total = configured.reduce((s, w) => s + w, 0);
		return configured.map((w) => w / total);
	}
	const shares = thompsonWeights(
		active.map((a) => ({ successes: a.arm.successes, trials: a.arm.trials })),
		{ floor: campaign.thompsonFloor, draws: THOMPSON_DRAWS, random: seededRandom(`${campaign.seed}:${period}`) },
	);
	const weights = configured.map(() => 0);
	active.forEach((a, k) => {
		weights[a.i] = shares[k];
	});
	return weights;
}

interface Allocation {
	id: string;
	weights: number[];
}

/**
 * Recomputes the allocation unless another worker holds the lock (null then) or has just written
 * a fresh one (that one is returned). With `wait`, waits for the lock instead.
 */
async function refreshAllocation(pool: Pool, campaign: Campaign, refreshMs: number, wait = false): Promise<Allocation | null> {
	return withTransaction(pool, async (client) => {
		if (!(await lockAllocation(client, campaign.id, wait))) return null;
		// Re-check under the lock: another worker may have just written a fresh allocation.
		const latest = await latestAllocation(client, campaign.id, refreshMs);
		if (latest?.fresh) return { id: latest.id, weights: latest.weights };
		const arms = await armAggregates(client, campaign);
		const weights = computeThompsonAllocation(campaign, arms, latest?.periods ?? 0);
		const basis = Object.fromEntries(campaign.variants.map((v, i) => [v.key, { trials: arms[i].trials, successes: arms[i].successes }]));
		return { id: await insertAllocation(client, campaign.id, weights, basis), weights };
	});
}

/** The allocation in force for a Thompson campaign, given the latest one read with the campaign. */
export async function currentAllocation(pool: Pool, campaign: Campaign, latest: WeightsRecord | null, refreshMs: number): Promise<Allocation> {
	const fresh = latest && Date.now() - new Date(latest.computedAt).getTime() < refreshMs;
	if (latest && fresh) return { id: latest.id, weights: latest.weights };
	const recomputed = await refreshAllocation(pool, campaign, refreshMs);
	if (recomputed) return recomputed;
	if (latest) return { id: latest.id, weights: latest.weights };
	// Another worker is writing the first allocation right now: wait for it.
	return (await refreshAllocation(pool, campaign, refreshMs, true)) as Allocation;
}

/**
 * Expected unit share per variant in Thompson mode: Σ over allocation periods of the units
 * assigned in that period × that period's split, plus the units without a period at the
 * configured split. Before any unit is assigned the configured split is the expectation.
 */
export async function thompsonExpectedSplit(db: Queryable, campaign: Campaign, totalUnits: number, configured: number[]): Promise<number[]> {
	const periods = await allocationPeriods(db, campaign.id);
	let withPeriod = 0;
	const expected = configured.map(() => 0);
	for (const period of periods) {
		withPeriod += period.units;
		const sum = period.weights.reduce((s, w) => s + w, 0);
		period.weights.forEach((w, i) => {
			expected[i] += sum > 0 ? (period.units * w) / sum : 0;
		});
	}
	const rest = Math.max(0, totalUnits - withPeriod);
	configured.forEach((w, i) => {
		expected[i] += rest * w;
	});
	const total = expected.reduce((s, e) => s + e, 0);
	if (!(total > 0)) return configured;
	return expected.map((e) => e / total);
}
