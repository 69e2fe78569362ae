/**
 * The n8n editor in a headless Chromium: a person logs in, opens the node panel, finds every
 * PromptLab node by its name, adds it to a canvas and sees its parameters. The list of nodes comes
 * from package.json's n8n.nodes (and n8n's own node types), so it grows as nodes are added.
 * Screenshots go to .n8n-local/screenshots/ (ignored), so `npm test` leaves the tree as it was;
 * `npm run screenshots` runs this file with PROMPTLAB_SCREENSHOTS_DIR=docs/screenshots to refresh
 * the README's pictures.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import type { Page } from 'playwright-core';

import { readRepoManifest } from '../scripts/n8n/package';
import { LOCAL_DIR, REPO_ROOT } from '../scripts/n8n/paths';
import type { NodeTypeDescription } from '../scripts/n8n/rest';
import { findChromium, launchChromium, type HeadlessBrowser } from './support/browser';
import { E2E_OWNER, startE2eN8n, type E2eN8n } from './support/n8n';

/** A relative PROMPTLAB_SCREENSHOTS_DIR is taken from the repository root (npm scripts run there anyway). */
const SCREENSHOTS = process.env.PROMPTLAB_SCREENSHOTS_DIR
	? resolve(REPO_ROOT, process.env.PROMPTLAB_SCREENSHOTS_DIR)
	: join(LOCAL_DIR, 'screenshots');
const manifest = readRepoManifest();

/** `dist/nodes/AbCampaign/AbCampaign.node.js` → `n8n-nodes-promptlab.abCampaign`. */
const declaredTypes = (manifest.n8n?.nodes ?? []).map((file) => {
	const stem = basename(file).replace(/\.node\.js$/, '');
	return `${manifest.name}.${stem.charAt(0).toLowerCase()}${stem.slice(1)}`;
});

describe('n8n editor with the PromptLab nodes (headless Chromium)', () => {
	let n8n: E2eN8n;
	let chromium: HeadlessBrowser;
	let nodes: NodeTypeDescription[] = [];

	beforeAll(async () => {
		// Chromium (Debian's package) and n8n start at once. A missing Chromium fails first, with a
		// message naming the package, before an n8n is started.
		findChromium();
		// allSettled: when one of the two fails, the other is still assigned, and afterAll stops it.
		const [browser, server] = await Promise.allSettled([launchChromium(), startE2eN8n({ name: 'editor' })]);
		if (browser.status === 'fulfilled') chromium = browser.value;
		if (server.status === 'fulfilled') n8n = server.value;
		if (browser.status === 'rejected') throw browser.reason;
		if (server.status === 'rejected') throw server.reason;
		const all = await n8n.client.nodeTypes();
		nodes = declaredTypes.map((type) => {
			const found = all.find((t) => t.name === type);
			if (!found) throw new Error(`n8n does not know ${type} (declared in package.json n8n.nodes); see ${n8n.main.logFile}`);
			return found;
		});
		mkdirSync(SCREENSHOTS, { recursive: true });
		// Log in through the sign-in form, as a person does; the session cookie then serves every page.
		const page = await chromium.context.newPage();
		await page.goto(`${n8n.baseUrl}/signin`);
		await page.getByTestId('emailOrLdapLoginId').locator('input').fill(E2E_OWNER.email);
		await page.getByTestId('password').locator('input').fill(E2E_OWNER.password);
		await page.getByTestId('form-submit-button').click();
		await page.waitForURL((url) => !url.pathname.startsWith('/signin'), { timeout: 60_000 });
		await page.close();
	});

	afterAll(async () => {
		await chromium?.close();
		await n8n?.stop();
	});

	/** A saved workflow holding only a Manual Trigger, opened in a new tab. */
	async function openWorkflowWithTrigger(title: string): Promise<Page> {
		const workflow = await n8n.client.request<{ id: string }>('POST', '/rest/workflows', {
			name: title,
			nodes: [
				{ id: 'b0c1a2d3-0000-4000-8000-000000000001', name: 'When clicking ‘Execute workflow’', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			],
			connections: {},
			settings: { executionOrder: 'v1' },
		});
		const page = await chromium.context.newPage();
		page.setDefaultTimeout(20_000);
		await page.goto(`${n8n.baseUrl}/workflow/${workflow.id}`);
		await page.getByTestId('canvas-node').first().waitFor();
		return page;
	}

	async function searchNodePanel(page: Page, text: string): Promise<void> {
		await page.getByTestId('canvas-handle-plus').first().click();
		const search = page.getByTestId('node-creator-search-bar');
		await search.waitFor();
		await search.fill(text);
	}

	it('the package declares nodes and n8n loaded each of them', () => {
		expect(nodes.length).toBe(declaredTypes.length);
		expect(nodes.length).toBeGreaterThan(0);
	});

	it('finds every PromptLab node in the node panel, adds it and opens its parameters', async () => {
		for (const node of nodes) {
			const shortName = node.name.split('.')[1];
			const page = await openWorkflowWithTrigger(`Editor e2e: ${node.displayName}`);
			try {
				await searchNodePanel(page, node.displayName);
				const result = page.getByTestId('node-creator-item-name').getByText(node.displayName, { exact: true }).first();
				await expect(result.isVisible()).resolves.toBe(true);
				await page.screenshot({ path: join(SCREENSHOTS, `node-panel-search-${shortName}.png`) });

				await result.click();
				// Nodes whose actions n8n lists show them first; installed community nodes whose actions it
				// does not list (a hidden resource parameter) show a "Node details" page with "Add to
				// workflow"; other nodes open directly.
				const ndv = page.getByTestId('ndv');
				const actions = page.getByTestId('node-creator-category-item').filter({ hasText: /^Actions/ });
				const addToWorkflow = page.getByRole('button', { name: 'Add to workflow' });
				await Promise.race([ndv.waitFor(), actions.waitFor(), addToWorkflow.waitFor()]);
				if (await addToWorkflow.isVisible()) {
					await page.screenshot({ path: join(SCREENSHOTS, `node-panel-details-${shortName}.png`) });
					await addToWorkflow.click();
				} else if (!(await ndv.isVisible())) {
					const names = page.getByTestId('node-creator-item-name');
					const labels = await names.allInnerTexts();
					await page.screenshot({ path: join(SCREENSHOTS, `node-panel-actions-${shortName}.png`) });
					const actionLabels = labels.filter((label) => label !== node.displayName);
					const preferred = actionLabels.find((label) => /^Create /.test(label)) ?? actionLabels[0];
					await names.getByText(preferred, { exact: true }).first().click();
				}
				await ndv.waitFor();
				await page.getByTestId('node-parameters').waitFor();
				expect(await page.getByTestId('parameter-item').count()).toBeGreaterThan(0);
				const requiredTypes = (node.credentials ?? []).filter((c) => c.required).map((c) => c.name);
				if (requiredTypes.includes('promptLabPostgres')) {
					// The required credential the start script created is picked automatically (a node with an
					// optional second credential shows one select per credential).
					const selects = page.getByTestId('node-credentials-select').locator('input');
					const values = await Promise.all((await selects.all()).map((input) => input.inputValue()));
					expect(values).toContain('PromptLab Postgres');
				}
				await page.screenshot({ path: join(SCREENSHOTS, `node-parameters-${shortName}.png`) });

				await page.getByTestId('ndv-close-button').click();
				await ndv.waitFor({ state: 'hidden' });
				expect(await page.getByTestId('canvas-node').count()).toBeGreaterThanOrEqual(2);
				await page.screenshot({ path: join(SCREENSHOTS, `canvas-${shortName}.png`) });
			} catch (error) {
				await page.screenshot({ path: join(n8n.logDir, `FAILED-${shortName}.png`) }).catch(() => undefined);
				throw error;
			} finally {
				await page.close();
			}
		}
	});
});
