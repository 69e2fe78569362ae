/**
 * Headless Chromium for the editor tests: Debian's chromium package (installed here with apt-get
 * when missing, so a fresh CI machine needs no manual step) driven by playwright-core.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium, selectors, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function run(command: string, args: string[]): void {
	execFileSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** Installs Debian's chromium when it is not there yet (root, or passwordless sudo). */
export function ensureChromium(log: (message: string) => void = (m) => process.stdout.write(`[browser] ${m}\n`)): string {
	if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
	const asRoot = process.getuid?.() === 0;
	const apt = (args: string[]) => (asRoot ? run('apt-get', args) : run('sudo', ['-n', 'apt-get', ...args]));
	log(`${CHROMIUM_PATH} missing: installing Debian's chromium with apt-get (about 10-60 s)`);
	try {
		apt(['install', '-y', '-q', '--no-install-recommends', 'chromium']);
	} catch {
		// Fresh machines often have empty package lists.
		apt(['update']);
		apt(['install', '-y', '-q', '--no-install-recommends', 'chromium']);
	}
	if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get install chromium finished but ${CHROMIUM_PATH} does not exist`);
	return CHROMIUM_PATH;
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
	const executablePath = ensureChromium();
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
