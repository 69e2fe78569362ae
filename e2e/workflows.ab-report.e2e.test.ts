/**
 * workflows/ab-report.json with generation.json and feedback.json on the real n8n: the closed A/B
 * loop over HTTP. Users get their (sticky) variant from the Generation API, rate the images through
 * the feedback webhook, GET /webhook/promptlab/ab-report shows the decision, POST .../promote moves
 * the production label to the winner; afterwards everyone gets the winner. Bad requests get the
 * status of their error `code`, with nothing changed.
 */
import type { Pool } from 'pg';

import { assignUnit, createCampaign, startCampaign } from '../lib/campaigns';
import { logExternalExecution } from '../lib/db/executions';
import { recordFeedback } from '../lib/feedback';
import { closeAllPools } from '../lib/db/pool';
import { createVersion } from '../lib/templates/manage';
import { startE2eN8n, type E2eN8n } from './support/n8n';
import { createImageTemplate, dataPool } from './support/promptlab-data';
import { assertNodesDeclared, expectErrorAnswer, shippedWorkflow, type GenerationAnswer } from './support/workflows';

const AB_REPORT = shippedWorkflow('ab-report.json');
const GENERATION = shippedWorkflow('generation.json');
const FEEDBACK = shippedWorkflow('feedback.json');
const RESULTS = 'promptlab/ab-report';
const PROMOTE = 'promptlab/ab-report/promote';

interface ResultsAnswer {
	campaign: { id: string; name: string; status: string };
	decision: { status: string; winnerVariantKey: string | null; summary: string; reasons: string[] };
	primaryMetric: string;
	variants: Array<{ key: string; isControl: boolean; version: number; units: number; ratedUnits: number; executions: number; goodRatingShare: { value: number | null } }>;
	srm: { pValue: number | null };
}

describe('workflow ab-report.json: the A/B loop over HTTP', () => {
	let n8n: E2eN8n;
	let pool: Pool;
	const template = 'e2e-ab-hero';
	const campaign = 'e2e-hero-lighting';
	let campaignId: string;

	async function campaignState() {
		const [row] = await n8n.queryData<{ status: string; winner: string | null; label: number; moves: string; assignments: string }>(
			`SELECT c.status, c.winner_variant_id AS winner,
				(SELECT v.version FROM promptlab.template_labels l JOIN promptlab.template_versions v ON v.id = l.version_id
				 JOIN promptlab.templates t ON t.id = l.template_id WHERE t.name = $2 AND l.label = 'production') AS label,
				(SELECT count(*) FROM promptlab.template_label_history)::text AS moves,
				(SELECT count(*) FROM promptlab.campaign_assignments)::text AS assignments
			 FROM promptlab.campaigns c WHERE c.name = $1`,
			[campaign, template],
		);
		return row;
	}

	beforeAll(async () => {
		assertNodesDeclared([AB_REPORT, GENERATION, FEEDBACK]);
		n8n = await startE2eN8n({ name: 'wf-ab-report', simulator: true, workflows: [AB_REPORT, GENERATION, FEEDBACK] });
		pool = await dataPool(n8n.dataDatabaseUrl);
		const { version } = await createImageTemplate(pool, template, { prompt: 'hero shot of {{subject}}, soft light, {{style}}' });
		await createVersion(pool, { name: template }, { positivePrompt: 'hero shot of {{subject}}, hard rim light, {{style}}', workflow: version.workflow, variables: version.variables });
		const created = await createCampaign(pool, {
			name: campaign,
			variants: [
				{ key: 'control', template: { name: template }, version: 1, weight: 1, isControl: true },
				{ key: 'B', template: { name: template }, version: 2, weight: 1, isControl: false },
			],
			minSamplePerVariant: 20,
			seed: 'e2e-ab-seed',
		});
		campaignId = created.id;
		await startCampaign(pool, { campaign: { id: campaignId } });
		// Earlier traffic, written the way the nodes write it: B's users love it, the control's do not.
		for (let n = 0; n < 120; n++) {
			const unit = `early-${n}`;
			const assignment = await assignUnit(pool, { campaign: { id: campaignId }, unitId: unit });
			const { execution } = await logExternalExecution(pool, { variantId: assignment.variantId, userId: unit, status: 'succeeded', durationMs: 800 });
			await recordFeedback(pool, { executionId: execution.id, userId: unit, rating: assignment.variantKey === 'B' ? 5 : 2 });
		}
	});

	afterAll(async () => {
		await closeAllPools();
		await n8n?.stop();
	});

	it('is published with both webhooks', () => {
		const deployed = n8n.workflows.find((w) => w.id === 'PromptLabAbRepor');
		expect(deployed?.activationError).toBeUndefined();
		expect(deployed?.active).toBe(true);
		expect(n8n.webhook(RESULTS).method).toBe('GET');
		expect(n8n.webhook(PROMOTE).method).toBe('POST');
	});

	it('the Generation API assigns each user a sticky variant, and the user\'s rating counts for it', async () => {
		const first = await n8n.postWebhook('promptlab/generate', { campaign, variables: { subject: 'a lamp' }, userId: 'web-user-1' });
		expect(first.status).toBe(200);
		const answer = first.body as GenerationAnswer & { campaign: { id: string; name: string; variant: string; variantId: string; assignedBy: string } };
		expect(answer.campaign).toMatchObject({ id: campaignId, name: campaign, assignedBy: 'hash', variant: expect.stringMatching(/^(control|B)$/) });
		expect(answer.template.version).toBe(answer.campaign.variant === 'B' ? 2 : 1);
		expect(answer.positivePrompt).toContain(answer.campaign.variant === 'B' ? 'hard rim light' : 'soft light');

		const again = await n8n.postWebhook('promptlab/generate', { campaign: campaignId, variables: { subject: 'a lamp' }, userId: 'web-user-1' });
		expect(again.body).toMatchObject({ campaign: { variant: answer.campaign.variant, variantId: answer.campaign.variantId } });

		const [execution] = await n8n.queryData<{ campaign_id: string; variant_id: string; user_id: string }>(
			'SELECT campaign_id, variant_id, user_id FROM promptlab.executions WHERE id = $1',
			[answer.executionId],
		);
		expect(execution).toEqual({ campaign_id: campaignId, variant_id: answer.campaign.variantId, user_id: 'web-user-1' });
		const rated = await n8n.postWebhook('promptlab/feedback', { executionId: answer.executionId, rating: 4, userId: 'web-user-1' });
		expect(rated.status).toBe(200);
		const [unit] = await n8n.queryData<{ variant_id: string; rating_count: number }>(
			'SELECT variant_id, rating_count FROM promptlab.campaign_unit_stats WHERE campaign_id = $1 AND unit_id = $2',
			[campaignId, 'web-user-1'],
		);
		expect(unit).toEqual({ variant_id: answer.campaign.variantId, rating_count: 1 });
	});

	it('GET ?campaign= answers the decision and the numbers per variant', async () => {
		const byName = await n8n.callWebhook(RESULTS, { query: { campaign } });
		expect(byName.status).toBe(200);
		const results = byName.body as ResultsAnswer;
		expect(results.campaign).toMatchObject({ id: campaignId, name: campaign, status: 'running' });
		expect(results.decision).toMatchObject({ status: 'winner', winnerVariantKey: 'B' });
		expect(results.variants.map((v) => v.key).sort()).toEqual(['B', 'control']);
		const b = results.variants.find((v) => v.key === 'B');
		const control = results.variants.find((v) => v.key === 'control');
		expect(b?.goodRatingShare.value).toBeGreaterThan(0.9);
		expect(control?.goodRatingShare.value).toBeLessThan(0.1);
		const units = await n8n.queryData<{ n: string }>('SELECT count(*)::text AS n FROM promptlab.campaign_assignments WHERE campaign_id = $1', [campaignId]);
		expect((b?.units ?? 0) + (control?.units ?? 0)).toBe(Number(units[0].n));

		const byId = await n8n.callWebhook(RESULTS, { query: { campaign: campaignId } });
		expect(byId.status).toBe(200);
		expect((byId.body as ResultsAnswer).decision.winnerVariantKey).toBe('B');
	});

	describe('refuses bad requests with the status of their code and changes nothing', () => {
		it.each<{ title: string; call: () => Promise<{ status: number; body: unknown; text?: string }>; status: number; code: string; field: string | null | RegExp }>([
			{ title: 'results without campaign', call: () => n8n.callWebhook(RESULTS), status: 400, code: 'field_required', field: /^campaign/ },
			{ title: 'results of an unknown campaign', call: () => n8n.callWebhook(RESULTS, { query: { campaign: 'no-such-campaign' } }), status: 404, code: 'campaign_not_found', field: 'campaign' },
			{ title: 'results with a NUL byte in the campaign query', call: () => n8n.callWebhook(RESULTS, { query: { campaign: 'hero\u0000lighting' } }), status: 400, code: 'invalid_text', field: /^campaign/ },
			{ title: 'promote without campaign', call: () => n8n.postWebhook(PROMOTE, { force: 'B' }), status: 400, code: 'field_required', field: /^campaign/ },
			{ title: 'promote with force: true', call: () => n8n.postWebhook(PROMOTE, { campaign, force: true }), status: 400, code: 'invalid_input', field: 'forceVariant' },
			{ title: 'promote an unknown variant', call: () => n8n.postWebhook(PROMOTE, { campaign, force: 'Z' }), status: 404, code: 'variant_not_found', field: 'forceVariant' },
			{ title: 'promote an unknown campaign', call: () => n8n.postWebhook(PROMOTE, { campaign: 'no-such-campaign' }), status: 404, code: 'campaign_not_found', field: 'campaign' },
			{ title: 'promote with an array body', call: () => n8n.postWebhook(PROMOTE, [campaign]), status: 400, code: 'invalid_body', field: null },
			{ title: 'promote with a form-encoded body', call: () => n8n.callWebhook(PROMOTE, { rawBody: `campaign=${campaign}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } }), status: 415, code: 'unsupported_media_type', field: null },
			{ title: 'promote with a body above 16 KiB', call: () => n8n.postWebhook(PROMOTE, { campaign: 'x'.repeat(20_000) }), status: 413, code: 'payload_too_large', field: null },
		])('$title → $status $code', async ({ call, status, code, field }) => {
			const before = await campaignState();
			const answer = await call();
			const error = expectErrorAnswer(answer, { status, code, field: field instanceof RegExp ? undefined : field });
			if (field instanceof RegExp) expect(error.field).toMatch(field);
			expect(await campaignState()).toEqual(before);
		});
	});

	it('POST /promote moves production to the winner and completes the campaign; a second promote is refused', async () => {
		const before = await campaignState();
		expect(before).toMatchObject({ status: 'running', label: 1 });
		const promoted = await n8n.postWebhook(PROMOTE, { campaign, movedBy: 'e2e' });
		expect(promoted.status).toBe(200);
		expect(promoted.body).toMatchObject({
			campaign: { name: campaign, status: 'completed', winnerVariantKey: 'B' },
			winner: { key: 'B', version: 2 },
			forced: false,
			labelMove: { templateName: template, label: 'production', fromVersion: 1, toVersion: 2 },
		});
		expect(await campaignState()).toMatchObject({ status: 'completed', label: 2, winner: expect.any(String) });
		const history = await n8n.queryData<{ moved_by: string; reason: string }>(
			'SELECT moved_by, reason FROM promptlab.template_label_history ORDER BY id DESC LIMIT 1',
		);
		expect(history[0]).toEqual({ moved_by: 'e2e', reason: `campaign ${campaign} winner` });

		const stateAfter = await campaignState();
		const again = await n8n.postWebhook(PROMOTE, { campaign });
		expectErrorAnswer(again, { status: 409, code: 'campaign_not_running', field: 'campaign' });
		expect(await campaignState()).toEqual(stateAfter);
	});

	it('after the promotion every user gets the winner, and no new assignment is stored', async () => {
		const before = await campaignState();
		const answer = await n8n.postWebhook('promptlab/generate', { campaign, variables: { subject: 'a chair' }, userId: 'late-user' });
		expect(answer.status).toBe(200);
		expect(answer.body).toMatchObject({ campaign: { variant: 'B', assignedBy: 'winner', status: 'completed' }, template: { version: 2 } });
		expect((answer.body as { campaign: Record<string, unknown> }).campaign.variantId).toBeUndefined();
		expect((await campaignState()).assignments).toBe(before.assignments);
	});

	it('a campaign without a winner is promoted only by force', async () => {
		const tie = await createCampaign(pool, {
			name: 'e2e-undecided',
			variants: [
				{ key: 'control', template: { name: template }, version: 1, weight: 1, isControl: true },
				{ key: 'B', template: { name: template }, version: 2, weight: 1, isControl: false },
			],
		});
		const draft = await n8n.postWebhook(PROMOTE, { campaign: 'e2e-undecided' });
		expectErrorAnswer(draft, { status: 409, code: 'campaign_not_running' });
		await startCampaign(pool, { campaign: { id: tie.id } });
		const refused = await n8n.postWebhook(PROMOTE, { campaign: 'e2e-undecided' });
		// field is the use case's name for the body's `force`
		expectErrorAnswer(refused, { status: 409, code: 'campaign_no_winner', field: 'forceVariant' });
		const forced = await n8n.postWebhook(PROMOTE, { campaign: tie.id, force: 'control' });
		expect(forced.status).toBe(200);
		expect(forced.body).toMatchObject({ forced: true, winner: { key: 'control', version: 1 }, labelMove: { toVersion: 1 } });
	});
});
