/**
 * Random sources and samplers. Every sampler takes the uniform source as an argument so that
 * Monte Carlo results (Thompson weights, Monte Carlo chance to beat control) are reproducible
 * in tests and benchmarks when given `seededRandom(seed)`.
 */
import { fnv1a32 } from './hash';

// Math and Number members as module constants: inside jest's vm sandbox every global lookup
// is ~10x slower, which made the numeric tests crawl; in plain Node it changes nothing.
const { PI, cos, imul, log, pow, sqrt, trunc } = Math;
const { isFinite: isFiniteNumber } = Number;

/** A uniform random source on the open interval (0, 1) (0 would break log() in the samplers). */
export type RandomSource = () => number;

/** Math.random mapped from [0, 1) to (0, 1]. */
export const defaultRandom: RandomSource = () => 1 - Math.random();

/**
 * Seeded uniform source (mulberry32), values in (0, 1). A string seed is hashed with FNV-1a first.
 * State lives in the returned closure, never in the module.
 */
export function seededRandom(seed: number | string): RandomSource {
	let state = (typeof seed === 'string' ? fnv1a32(seed) : trunc(seed)) >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = imul(t ^ (t >>> 15), t | 1);
		t ^= t + imul(t ^ (t >>> 7), t | 61);
		t = (t ^ (t >>> 14)) >>> 0;
		return (t + 0.5) / 4294967296;
	};
}

/**
 * Standard normal draw by Box–Muller, cosine branch only (two uniforms per draw, radius first).
 * This is exactly check-stats.mjs' `randn`, so its Monte Carlo figure can be replayed bit for bit.
 */
export function sampleStandardNormal(random: RandomSource): number {
	return sqrt(-2 * log(random())) * cos(2 * PI * random());
}

/**
 * Gamma(shape, 1) draw: Marsaglia–Tsang (2000) squeeze/rejection for shape ≥ 1, and the
 * Gamma(k + 1)·U^(1/k) boost for shape < 1. Same order of uniform draws as check-stats.mjs.
 */
export function sampleGamma(shape: number, random: RandomSource): number {
	if (!(shape > 0) || !isFiniteNumber(shape)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
	if (shape < 1) return sampleGamma(shape + 1, random) * pow(random(), 1 / shape);
	const d = shape - 1 / 3;
	const c = 1 / sqrt(9 * d);
	for (;;) {
		let x: number;
		let v: number;
		do {
			x = sampleStandardNormal(random);
			v = 1 + c * x;
		} while (v <= 0);
		v = v * v * v;
		const u = random();
		if (u < 1 - 0.0331 * x * x * x * x) return d * v;
		if (log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
	}
}

/** Beta(alpha, beta) draw as X/(X+Y) with X ~ Gamma(alpha), Y ~ Gamma(beta), drawn in that order. */
export function sampleBeta(alpha: number, beta: number, random: RandomSource): number {
	const x = sampleGamma(alpha, random);
	const y = sampleGamma(beta, random);
	return x / (x + y);
}
