import { logExternalExecution } from '../lib/db/executions';
import { recordFeedback } from '../lib/feedback';
import { getPool } from '../lib/db/pool';
import { createTemplate } from '../lib/templates/manage';
import { PromptTemplate } from '../nodes/PromptTemplate/PromptTemplate.node';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postgresCredential, runWorkflow, singleNodeWorkflow, type WorkflowFixture } from '../dev/n8n-harness';

const nodeTypes = { 'n8n-nodes-promptlab.promptTemplate': new PromptTemplate() };

function reportWorkflow(parameters: Record<string, unknown>): WorkflowFixture {
	return singleNodeWorkflow({
		name: 'Report',
		type: 'n8n-nodes-promptlab.promptTemplate',
		parameters: { resource: 'report', operation: 'weekly', ...parameters },
	});
}

describe('Prompt Template node: weekly report', () => {
	let db: TestDatabase;

	beforeAll(async () => {
		db = await createTestDatabase();
		const pool = await getPool(db.config);
		const mk = (name: string) => createTemplate(pool, { name, kind: 'text', firstVersion: { positivePrompt: name } });
		const a = await mk('<b>alpha</b>');
		const b = await mk('beta');
		const now = Date.now();
		// alpha: 3 runs (1 failed), ratings 5,4 ; beta: 1 run, rating 2
		const runs = [
			{ v: a.version.id, status: 'succeeded' as const, ms: 1000 },
			{ v: a.version.id, status: 'succeeded' as const, ms: 3000 },
			{ v: a.version.id, status: 'failed' as const, ms: 500, error: 'CUDA out of memory' },
			{ v: b.version.id, status: 'succeeded' as const, ms: 2000 },
		];
		const ids: string[] = [];
		for (const r of runs) {
			const { execution } = await logExternalExecution(pool, {
				versionId: r.v,
				status: r.status,
				durationMs: r.ms,
				error: r.error,
				userId: 'u1',
				finishedAt: new Date(now - 60_000),
			});
			ids.push(execution.id);
		}
		await recordFeedback(pool, { executionId: ids[0], userId: 'u1', rating: 5 });
		await recordFeedback(pool, { executionId: ids[1], userId: 'u2', rating: 4 });
		await recordFeedback(pool, { executionId: ids[3], userId: 'u1', rating: 2 });
	});
	afterAll(async () => {
		await db.drop();
	});

	test('returns totals, top lists, failures and an e-mail-ready HTML report', async () => {
		const { output, error } = await runWorkflow({
			workflow: reportWorkflow({ period: 'last7', listLength: 10, includeHtml: true }),
			nodeTypes,
			credentials: { promptLabPostgres: postgresCredential(db.config) },
		});
		expect(error).toBeUndefined();
		const [item] = output('Report');
		const report = item.json as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
		expect(report.totals).toMatchObject({ executions: 4, succeeded: 3, failed: 1, ratingCount: 3, avgDurationMs: 2000 });
		expect(report.topByUse.map((r: { templateName: string }) => r.templateName)).toEqual(['<b>alpha</b>', 'beta']);
		expect(report.topByRating[0].templateName).toBe('<b>alpha</b>');
		expect(report.failures.topErrors).toEqual([
			expect.objectContaining({ message: 'CUDA out of memory', count: 1, templates: ['<b>alpha</b>'] }),
		]);
		const html = String(report.html);
		expect(html).toMatch(/^<!doctype html>/);
		expect(html).toContain('&lt;b&gt;alpha&lt;/b&gt;'); // names are escaped, never injected
		expect(html).not.toContain('<b>alpha</b>');
		expect(html).toContain('data-chart="Executions per template"');
		expect(html).toContain('CUDA out of memory');
	});

	test('a custom period with From after To is refused naming the field', async () => {
		const { error } = await runWorkflow({
			workflow: reportWorkflow({ period: 'custom', from: '2026-11-20', to: '2026-11-10' }),
			nodeTypes,
			credentials: { promptLabPostgres: postgresCredential(db.config) },
		});
		expect(error?.message).toMatch(/^The report window is empty: from \(2026-11-20.*\) must be before to \(2026-11-10/);
		expect((error as { description?: string }).description).toContain('Check the "From" field.');
		expect((error as { context?: Record<string, unknown> }).context).toMatchObject({ field: 'from' });
	});
});
