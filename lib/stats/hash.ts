/**
 * Deterministic bucketing, bit-compatible with GrowthBook's SDK (`packages/sdk-js/src/util.ts`),
 * so assignments can be checked against GrowthBook's own test vectors
 * (research/growthbook-hash-cases.json) and a unit keeps its variant whichever process computes it.
 *
 * The hash only proposes a variant: the DB layer persists the first assignment of a unit
 * (campaign_assignments, INSERT … ON CONFLICT DO NOTHING) and that row wins afterwards, so later
 * weight changes (Thompson updates, paused variants) never move a unit that was already assigned.
 */

// A module constant: global lookups are slow inside jest's vm sandbox (100k-id tests).
const { imul, max, min } = Math;

/** 32-bit FNV-1a over UTF-16 code units (what GrowthBook hashes; not UTF-8 bytes). */
export function fnv1a32(text: string): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = imul(hash, 0x01000193) >>> 0;
	}
	return hash >>> 0;
}

export type HashVersion = 1 | 2;

/**
 * GrowthBook's `hash(seed, value, version)`: v2 (default, "unbiased") maps to 10,000 buckets,
 * v1 (legacy) to 1,000. Unknown versions give null, as in GrowthBook.
 */
export function growthbookHash(seed: string, value: string, version: number): number | null {
	if (version === 2) return (fnv1a32(String(fnv1a32(seed + value))) % 10000) / 10000;
	if (version === 1) return (fnv1a32(value + seed) % 1000) / 1000;
	return null;
}

/** Position of a unit on the [0, 1) line for a campaign seed. */
export function hashToUnit(seed: string, unitId: string, version: HashVersion = 2): number {
	const position = growthbookHash(seed, unitId, version);
	if (position === null) throw new RangeError(`unknown hash version ${String(version)}`);
	return position;
}

/** Half-open range [start, end) on the hash line. */
export type BucketRange = readonly [number, number];

/**
 * Cumulative ranges for the given weights, GrowthBook's `getBucketRanges` but for the weights
 * stored in the DB: any non-negative numbers, normalised here (GrowthBook instead falls back to
 * equal weights when they do not sum to 1). A zero weight gives an empty range: never chosen.
 * `coverage` < 1 shrinks every range from its start, so lowering coverage keeps enrolled units in
 * place; units that fall in no range are not enrolled.
 */
export function bucketRanges(weights: readonly number[], coverage = 1): BucketRange[] {
	if (weights.length === 0) throw new RangeError('at least one weight is required');
	let total = 0;
	for (const weight of weights) {
		if (!Number.isFinite(weight) || weight < 0) throw new RangeError(`weights must be finite and >= 0, got ${weight}`);
		total += weight;
	}
	if (total <= 0) throw new RangeError('at least one weight must be positive');
	const clampedCoverage = min(1, max(0, coverage));
	let cumulative = 0;
	return weights.map((weight) => {
		// Dividing the running sum (rather than summing normalised weights) keeps the last end at 1.
		const start = cumulative / total;
		cumulative += weight;
		return [start, start + (clampedCoverage * weight) / total] as const;
	});
}

/** Index of the range containing `position`, or −1 (not enrolled), GrowthBook's `chooseVariation`. */
export function chooseVariantIndex(position: number, ranges: readonly BucketRange[]): number {
	for (let i = 0; i < ranges.length; i++) {
		if (position >= ranges[i][0] && position < ranges[i][1]) return i;
	}
	return -1;
}

export interface AssignOptions {
	/** Hash version; 2 unless a campaign was created with v1. */
	version?: HashVersion;
	/** Share of units enrolled at all (0..1); 1 enrolls everyone. */
	coverage?: number;
}

/**
 * Variant index for a unit: hash(seed, unitId) onto the cumulative normalised weights.
 * Returns −1 only when `coverage` < 1 leaves the unit out.
 */
export function assignVariant(seed: string, unitId: string, weights: readonly number[], options: AssignOptions = {}): number {
	return chooseVariantIndex(hashToUnit(seed, unitId, options.version ?? 2), bucketRanges(weights, options.coverage ?? 1));
}
