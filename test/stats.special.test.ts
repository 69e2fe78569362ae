import {
	betaPdf,
	chiSquareSurvival,
	erf,
	integrate,
	logGamma,
	normalCdf,
	normalQuantile,
	regularizedBeta,
	regularizedGammaP,
	studentTCdf,
	studentTQuantile,
	studentTTwoSidedP,
} from '../lib/stats/special';

/** |actual − expected| ≤ tolerance·max(1, |expected|). */
function expectNear(actual: number, expected: number, tolerance = 1e-12): void {
	const scale = Math.max(1, Math.abs(expected));
	if (!(Math.abs(actual - expected) <= tolerance * scale)) {
		throw new Error(`expected ${expected}, got ${actual} (difference ${actual - expected})`);
	}
}

/** Relative comparison for tiny tail probabilities. */
function expectRelative(actual: number, expected: number, tolerance = 1e-10): void {
	if (!(Math.abs(actual - expected) <= tolerance * Math.abs(expected))) {
		throw new Error(`expected ${expected}, got ${actual} (relative ${(actual - expected) / expected})`);
	}
}

// Reference values: scipy 1.17.1 (scipy.stats / scipy.special / math.lgamma), printed with repr().
describe('special functions against scipy', () => {
	test('normal CDF, including the far tail', () => {
		expectNear(normalCdf(1), 0.8413447460685429);
		expectNear(normalCdf(-1.96), 0.024997895148220435);
		expectNear(normalCdf(3), 0.9986501019683699);
		expectNear(normalCdf(0.3), 0.6179114221889526);
		expectRelative(normalCdf(-8), 6.22096057427174e-16);
		expectRelative(normalCdf(-30), 4.906713927147908e-198);
		expectNear(erf(0.5), 0.5204998778130465);
	});

	test('normal quantile', () => {
		expectNear(normalQuantile(0.975), 1.959963984540054);
		expectNear(normalQuantile(0.001), -3.090232306167813);
		expectNear(normalQuantile(0.9999999), 5.199337582290661, 1e-10);
		expectNear(normalQuantile(1e-300), -37.0470962993612);
		expect(normalQuantile(0.5)).toBe(0);
		expect(normalQuantile(0)).toBe(-Infinity);
		expect(Number.isNaN(normalQuantile(1.5))).toBe(true);
	});

	test('log-gamma', () => {
		expectNear(logGamma(0.5), 0.5723649429247004);
		expectNear(logGamma(10), 12.801827480081467);
		expectNear(logGamma(3.7), 1.4280723266653883);
		expectRelative(logGamma(1e5), 1051287.7089736566, 1e-14);
	});

	test('regularized incomplete beta and gamma', () => {
		expectNear(regularizedBeta(0.3, 2.5, 4), 0.3521975859067672);
		expectNear(regularizedBeta(0.2, 0.5, 0.5), 0.2951672353008665);
		expectNear(regularizedBeta(0.45, 50, 60), 0.4642352914306031);
		expectNear(regularizedBeta(0.999, 2, 3), 0.999999996003);
		expectNear(regularizedBeta(0.21, 20, 80), 0.6165024969811828);
		// Large parameters: the Stirling form keeps the prefactor accurate.
		expectNear(regularizedBeta(0.5, 1e5, 1e5 + 10), 0.5089196728805322, 1e-12);
		// Exponential distribution: P(1, x) = 1 − e^(−x).
		expectNear(regularizedGammaP(1, 2), 1 - Math.exp(-2));
	});

	test('beta density', () => {
		expectNear(betaPdf(0.2, 41, 161), 14.144289407379068, 1e-12);
		expectNear(betaPdf(0.25, 20, 60), 8.203406267057725, 1e-12);
		expect(betaPdf(0, 1, 3)).toBe(3);
		expect(betaPdf(1.2, 2, 2)).toBe(0);
	});

	test('chi-square survival (the χ² p-value)', () => {
		expectNear(chiSquareSurvival(3.841458820694124, 1), 0.05);
		expectNear(chiSquareSurvival(7.5, 3), 0.0575584519726364);
		expectNear(chiSquareSurvival(0.5, 5), 0.9921232932326296);
		// df = 2 is exponential: sf(x) = exp(−x/2).
		expectNear(chiSquareSurvival(10, 2), Math.exp(-5));
		expectRelative(chiSquareSurvival(160, 1), 1.1314837902433038e-36);
	});

	test('Student t CDF, two-sided p and quantile', () => {
		expectNear(studentTCdf(-2.5, 4), 0.03338327240599407);
		expectNear(studentTCdf(1.3, 7.5), 0.8839366105921956);
		expectRelative(1 - studentTCdf(30, 3), 4.067640213581979e-5, 1e-9);
		expectNear(studentTTwoSidedP(-2.5, 4), 2 * 0.03338327240599407);
		expectNear(studentTQuantile(0.975, 10), 2.228138851986274);
		expectNear(studentTQuantile(0.975, 30), 2.0422724563012378);
		expectNear(studentTQuantile(0.995, 3), 5.840909309733355);
		expectNear(studentTQuantile(0.025, 2.5), -3.5746548420036834);
		expectNear(studentTQuantile(0.9, 1000), 1.2823987214609247);
		expectNear(studentTQuantile(0.975, 1), 12.706204736174694);
		expectNear(studentTQuantile(0.025, 3.5), -2.9400886379827296);
		expect(studentTQuantile(0.5, 7)).toBe(0);
	});

	test('adaptive Gauss–Kronrod integration', () => {
		expectNear(integrate((x) => x ** 20, 0, 1), 1 / 21, 1e-15);
		// End-point singularity: ∫₀¹ x^(−1/2) dx = 2.
		expectNear(integrate((x) => 1 / Math.sqrt(x), 0, 1, { absoluteTolerance: 1e-10 }), 2, 1e-9);
		// A narrow peak found thanks to the initial pieces.
		expectNear(integrate((x) => Math.exp(-(((x - 0.7031) / 1e-3) ** 2)), 0, 1, { initialPieces: 64 }), Math.sqrt(Math.PI) * 1e-3, 1e-13);
	});
});
