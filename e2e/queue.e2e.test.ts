/**
 * Queue mode (EXECUTIONS_MODE=queue): main takes the webhooks and enqueues on Redis, two
 * `n8n worker` processes with the same encryption key and the same installed package run the
 * executions. PromptLab nodes must work there unchanged (no process-local state).
 */
import { readFileSync } from 'node:fs';

import { readRepoManifest } from '../scripts/n8n/package';
import { fixture, startE2eN8n, type E2eN8n } from './support/n8n';

const hasPromptTemplate = (readRepoManifest().n8n?.nodes ?? []).some((file) => file.endsWith('/PromptTemplate.node.js'));

describe('queue mode: main + 2 workers on Redis', () => {
	let n8n: E2eN8n;

	beforeAll(async () => {
		n8n = await startE2eN8n({
			name: 'queue',
			queueWorkers: 2,
			workflows: [fixture('echo.workflow.json'), ...(hasPromptTemplate ? [fixture('prompt-template.workflow.json')] : [])],
		});
	});

	afterAll(async () => {
		await n8n?.stop();
	});

	it('runs production webhook executions on the workers', async () => {
		const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => n8n.postWebhook('promptlab-e2e-echo', { i })));
		expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
		expect(responses.map((r) => (r.body as { echo: { i: number } }).echo.i).sort()).toEqual([0, 1, 2, 3, 4, 5]);
		const workerLogs = n8n.workers.map((w) => readFileSync(w.logFile, 'utf8'));
		const started = workerLogs.map((log) => (log.match(/Worker started execution/g) ?? []).length);
		expect(started.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(6);
		expect(readFileSync(n8n.main.logFile, 'utf8')).not.toMatch(/Worker started execution/);
	});

	(hasPromptTemplate ? it : it.skip)('runs PromptLab nodes on workers: concurrent webhook calls each create one template', async () => {
		const names = Array.from({ length: 6 }, (_, i) => `queue-${Date.now()}-${i}`);
		const responses = await Promise.all(names.map((name) => n8n.postWebhook('promptlab-e2e-template', { name, topic: name })));
		expect(responses.map((r) => r.status)).toEqual(names.map(() => 200));
		for (const [i, response] of responses.entries()) {
			expect(response.body).toMatchObject({ templateName: names[i], positivePrompt: `A short poem about ${names[i]}`, version: 1 });
		}
		const rows = await n8n.queryData<{ name: string }>('SELECT name FROM promptlab.templates WHERE name = ANY($1) ORDER BY name', [names]);
		expect(rows.map((r) => r.name)).toEqual([...names].sort());
	});
});
