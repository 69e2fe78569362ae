/**
 * Headless Chromium for the editor tests: Debian's chromium package driven by playwright-core.
 * The tests never install it (`npm test` must not run apt-get): .ci/run installs it on CI, and on
 * another machine a missing browser fails with a message naming the package.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium, selectors, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The Chromium binary to drive, or an error saying how to get one. */
export function findChromium(): string {
	if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
	throw new Error(
		`Chromium not found at ${CHROMIUM_PATH}: the editor e2e test needs a Chromium. ` +
			`On Debian install the "chromium" package (apt-get install --no-install-recommends chromium; ` +
			`.ci/run does this), or set CHROMIUM_PATH to a Chromium or Chrome binary.`,
	);
}

export interface HeadlessBrowser {
	context: BrowserContext;
	close(): Promise<void>;
}

/**
 * A fresh profile every time (playwright passes it as --user-data-dir; it refuses that flag in
 * `args`, hence the persistent-context launch).
 */
export async function launchChromium(): Promise<HeadlessBrowser> {
	const executablePath = findChromium();
	// n8n's editor marks elements with data-test-id (playwright's default is data-testid).
	selectors.setTestIdAttribute('data-test-id');
	const userDataDir = mkdtempSync(join(tmpdir(), 'promptlab-chromium-'));
	const context = await chromium.launchPersistentContext(userDataDir, {
		executablePath,
		headless: true,
		viewport: { width: 1440, height: 900 },
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--disable-dev-shm-usage',
		],
	});
	return {
		context,
		close: async () => {
			await context.close();
			rmSync(userDataDir, { recursive: true, force: true });
		},
	};
}
