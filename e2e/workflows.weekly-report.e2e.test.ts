/**
 * workflows/weekly-report.json on the real n8n with an SMTP sink: GET /webhook/promptlab/report
 * builds the weekly report (Prompt Template → Report → Weekly), e-mails its HTML and answers with
 * it; the schedule trigger path does the same without a caller (run here through a copy that fires
 * every few seconds); bad query parameters get 400 invalid_input and send nothing; a broken SMTP
 * server gives 502 email_not_sent on the webhook and a failed execution on the schedule.
 */
import type { Pool } from 'pg';

import { logExternalExecution } from '../lib/db/executions';
import { recordFeedback } from '../lib/feedback';
import { closeAllPools } from '../lib/db/pool';
import { sleep } from '../scripts/n8n/proc';
import { POSTGRES_CREDENTIAL_TYPE } from '../scripts/n8n/stack';
import { freePort } from '../dev/postgres';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { createImageTemplate, dataPool, loggedExecution } from './support/promptlab-data';
import { assertNodesDeclared, expectErrorAnswer, findNode, readWorkflow, shippedWorkflow, writeWorkflowCopy } from './support/workflows';

const WEEKLY = shippedWorkflow('weekly-report.json');
const PATH = 'promptlab/report';
const SCHEDULED_COPY_ID = 'PromptLabWeeklyQ';
const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'smtp-e2e-secret';

/** The shipped workflow with its schedule firing every 2 seconds (and another webhook path). */
function frequentCopy(): string {
	const workflow = readWorkflow(WEEKLY);
	workflow.id = SCHEDULED_COPY_ID;
	workflow.name = `${workflow.name} (every 2 s)`;
	findNode(workflow, 'Every Monday 08:00').parameters = { rule: { interval: [{ field: 'seconds', secondsInterval: 2 }] } };
	const hook = findNode(workflow, 'Report Webhook');
	hook.webhookId = '0c7d5e1f-3a2b-4c8d-9e0f-6a5b4c3d2e1f';
	hook.parameters = { ...hook.parameters, path: 'promptlab/report-copy' };
	return writeWorkflowCopy(workflow, 'weekly-report-frequent.json');
}

async function waitForExecutions(n8n: E2eN8n, workflowId: string, atLeast: number, timeoutMs = 30_000) {
	const started = Date.now();
	for (;;) {
		const executions = await n8n.client.listExecutions(workflowId);
		const finished = executions.filter((e) => !['running', 'new', 'waiting'].includes(e.status));
		if (finished.length >= atLeast) return finished;
		if (Date.now() - started > timeoutMs) throw new Error(`${finished.length} of ${atLeast} executions of ${workflowId} after ${timeoutMs} ms`);
		await sleep(250);
	}
}

/**
 * Waits until no execution of the workflow is still running (a run the schedule started just
 * before the workflow was deactivated can still be e-mailing), then forgets the mails so far.
 */
async function settleSchedule(n8n: E2eN8n, workflowId: string, timeoutMs = 30_000) {
	const started = Date.now();
	while ((await n8n.client.listExecutions(workflowId)).some((e) => ['running', 'new', 'waiting'].includes(e.status))) {
		if (Date.now() - started > timeoutMs) throw new Error(`executions of ${workflowId} still running after ${timeoutMs} ms`);
		await sleep(250);
	}
	n8n.smtp?.clear();
}

describe('workflow weekly-report.json: schedule + GET /webhook/promptlab/report', () => {
	let n8n: E2eN8n;
	let pool: Pool;
	const templateName = 'e2e-weekly-hero';

	beforeAll(async () => {
		assertNodesDeclared([WEEKLY]);
		n8n = await startE2eN8n({
			name: 'wf-weekly',
			workflows: [WEEKLY, frequentCopy()],
			smtp: { credentials: { user: SMTP_USER, password: SMTP_PASSWORD } },
		});
		// The copy only runs in its own test.
		await n8n.client.deactivateWorkflow(SCHEDULED_COPY_ID);
		await settleSchedule(n8n, SCHEDULED_COPY_ID);
		pool = await dataPool(n8n.dataDatabaseUrl);
		const { version } = await createImageTemplate(pool, templateName, { category: 'product' });
		for (let i = 0; i < 4; i++) {
			const executionId = await loggedExecution(pool, version.id, `user-${i}`);
			await recordFeedback(pool, { executionId, userId: `rater-${i}`, rating: i < 3 ? 5 : 2 });
		}
		await logExternalExecution(pool, { versionId: version.id, status: 'failed', error: { message: 'CUDA out of memory' } });
	});

	afterAll(async () => {
		await closeAllPools();
		await n8n?.stop();
	});

	it('is published with its schedule trigger and its webhook', async () => {
		const deployed = n8n.workflows.find((w) => w.id === 'PromptLabWeeklyR');
		expect(deployed?.activationError).toBeUndefined();
		expect(deployed?.active).toBe(true);
		expect(n8n.webhook(PATH).method).toBe('GET');
		const stored = await n8n.client.getWorkflow('PromptLabWeeklyR');
		expect(findNode(stored, 'Every Monday 08:00').parameters).toMatchObject({
			rule: { interval: [{ field: 'weeks', triggerAtDay: [1], triggerAtHour: 8, triggerAtMinute: 0 }] },
		});
	});

	it('GET /report e-mails the report over the SMTP credential and answers with its HTML', async () => {
		n8n.smtp?.clear();
		const answer = await n8n.callWebhook(PATH);
		expect(answer.status).toBe(200);
		expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
		expect(answer.headers.get('x-promptlab-email')).toBe('sent');
		expect(answer.text).toContain(templateName);
		expect(answer.text).toContain('CUDA out of memory');
		expect(answer.text).toMatch(/^<!doctype html>|^<html|<table/i);

		const [mail] = await n8n.smtp!.waitForMessages(1);
		expect(mail.from).toBe('promptlab@example.com');
		expect(mail.to).toEqual(['team@example.com']);
		expect(mail.authUser).toBe(SMTP_USER);
		expect(mail.subject).toMatch(/^PromptLab weekly report \d{4}-\d{2}-\d{2} – \d{4}-\d{2}-\d{2}$/);
		expect(mail.html).toContain(templateName);
		// The mail is the report itself: no n8n attribution appended.
		expect(mail.html).not.toMatch(/sent automatically with/i);
		expect(mail.html?.replace(/\r\n/g, '\n').trim()).toBe(answer.text.replace(/\r\n/g, '\n').trim());
	});

	it('?send=false only previews; ?period=last30 reports 30 days', async () => {
		n8n.smtp?.clear();
		const preview = await n8n.callWebhook(PATH, { query: { send: 'false' } });
		expect(preview.status).toBe(200);
		expect(preview.headers.get('x-promptlab-email')).toBe('not requested');
		expect(preview.text).toContain(templateName);

		const month = await n8n.callWebhook(PATH, { query: { send: 'false', period: 'last30' } });
		expect(month.status).toBe(200);
		const days = (text: string) => {
			const [from, to] = (text.match(/\d{4}-\d{2}-\d{2}/g) ?? []).map((d) => Date.parse(d));
			return Math.round((to - from) / 86_400_000);
		};
		expect(days(preview.text)).toBe(7);
		expect(days(month.text)).toBe(30);
		await sleep(300);
		expect(n8n.smtp?.messages).toHaveLength(0);
	});

	it.each<{ query: Record<string, string>; field: string; message: RegExp }>([
		{ query: { period: 'yesterday' }, field: 'period', message: /period must be last7 or last30 \(got "yesterday"\)/ },
		{ query: { send: 'maybe' }, field: 'send', message: /send must be true or false \(got "maybe"\)/ },
	])('bad query $query → 400 invalid_input naming $field, no e-mail', async ({ query, field, message }) => {
		n8n.smtp?.clear();
		const answer = await n8n.callWebhook(PATH, { query });
		const error = expectErrorAnswer(answer, { status: 400, code: 'invalid_input', field });
		expect(error.error).toMatch(message);
		await sleep(300);
		expect(n8n.smtp?.messages).toHaveLength(0);
	});

	it('a report that cannot be built (database unreachable) → 503 database_unavailable, no e-mail', async () => {
		n8n.smtp?.clear();
		const credential = n8n.credentials[POSTGRES_CREDENTIAL_TYPE];
		const { data } = await n8n.client.request<{ data: Record<string, unknown> }>('GET', `/rest/credentials/${credential.id}`, undefined, {
			includeData: 'true',
		});
		await n8n.client.upsertCredential(credential.name, credential.type, { ...data, port: await freePort() });
		try {
			const answer = await n8n.callWebhook(PATH);
			const error = expectErrorAnswer(answer, { status: 503, code: 'database_unavailable', field: null });
			expect(error.error).toMatch(/^The weekly report could not be built: /);
		} finally {
			await n8n.client.upsertCredential(credential.name, credential.type, data);
		}
		await sleep(300);
		expect(n8n.smtp?.messages).toHaveLength(0);
		expect((await n8n.callWebhook(PATH, { query: { send: 'false' } })).status).toBe(200);
	});

	it('the schedule path e-mails the report with nobody waiting for an answer', async () => {
		n8n.smtp?.clear();
		const stored = await n8n.client.getWorkflow(SCHEDULED_COPY_ID);
		await n8n.client.activateWorkflow(SCHEDULED_COPY_ID, stored.versionId);
		try {
			const [mail] = await n8n.smtp!.waitForMessages(1, 20_000);
			expect(mail.to).toEqual(['team@example.com']);
			expect(mail.html).toContain(templateName);
			const [execution] = await waitForExecutions(n8n, SCHEDULED_COPY_ID, 1);
			expect(execution).toMatchObject({ status: 'success', mode: 'trigger' });
		} finally {
			await n8n.client.deactivateWorkflow(SCHEDULED_COPY_ID);
			await settleSchedule(n8n, SCHEDULED_COPY_ID);
		}
	});

	it('when the SMTP server is gone: 502 naming the reason on the webhook, a failed execution on the schedule', async () => {
		await n8n.smtp!.stop();
		const answer = await n8n.callWebhook(PATH);
		const error = expectErrorAnswer(answer, { status: 502, code: 'email_not_sent', field: null });
		expect(error.error).toMatch(/^The report was built but the e-mail was not sent: .*ECONNREFUSED/s);
		expect(error.hint).toMatch(/\?send=false/);
		expect((await n8n.callWebhook(PATH, { query: { send: 'false' } })).status).toBe(200);

		const before = (await n8n.client.listExecutions(SCHEDULED_COPY_ID)).length;
		const stored = await n8n.client.getWorkflow(SCHEDULED_COPY_ID);
		await n8n.client.activateWorkflow(SCHEDULED_COPY_ID, stored.versionId);
		let failed;
		try {
			const executions = await waitForExecutions(n8n, SCHEDULED_COPY_ID, before + 1);
			failed = executions[0];
		} finally {
			await n8n.client.deactivateWorkflow(SCHEDULED_COPY_ID);
		}
		expect(failed.status).toBe('error');
		const detail = await n8n.client.request<{ data: string }>('GET', `/rest/executions/${failed.id}`);
		expect(detail.data).toContain('The report was built but the e-mail was not sent');
	});
});
