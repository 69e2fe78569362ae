/**
 * End-to-end tests: a real n8n (installed into .n8n-local/n8n) with this package installed as a
 * community package, on a real Postgres, driven over HTTP and a headless Chromium.
 * `npm run test:e2e`, or one file: `npx jest -c jest.e2e.config.js e2e/smoke.e2e.test.ts`.
 */
module.exports = {
	preset: 'ts-jest',
	testEnvironment: 'node',
	roots: ['<rootDir>/e2e'],
	testMatch: ['**/*.e2e.test.ts'],
	globalSetup: '<rootDir>/e2e/support/global-setup.ts',
	globalTeardown: '<rootDir>/e2e/support/global-teardown.ts',
	// One n8n per test file, files one after another: the CI box has 2 cores.
	maxWorkers: 1,
	testTimeout: 300000,
	slowTestThreshold: 120,
	transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};
