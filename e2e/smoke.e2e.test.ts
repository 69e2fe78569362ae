/**
 * The real n8n with the package installed the way users install it (community package in
 * <N8N_USER_FOLDER>/.n8n/nodes/node_modules): n8n knows the nodes and credentials, published
 * workflows answer on their production webhooks, and PromptLab nodes write to Postgres.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { readRepoManifest } from '../scripts/n8n/package';
import { COMFYUI_CREDENTIAL_TYPE, POSTGRES_CREDENTIAL_TYPE } from '../scripts/n8n/stack';
import { fixture, startE2eN8n, type E2eN8n } from './support/n8n';

const manifest = readRepoManifest();
const PACKAGE = manifest.name;

/** `dist/nodes/PromptTemplate/PromptTemplate.node.js` → `n8n-nodes-promptlab.promptTemplate`. */
function nodeTypeOf(file: string): string {
	const stem = basename(file).replace(/\.node\.js$/, '');
	return `${PACKAGE}.${stem.charAt(0).toLowerCase()}${stem.slice(1)}`;
}

const declaredNodeTypes = (manifest.n8n?.nodes ?? []).map(nodeTypeOf);
/** `dist/credentials/ComfyUiApi.credentials.js` → `comfyUiApi`. */
const declaredCredentialTypes = (manifest.n8n?.credentials ?? []).map((file) => {
	const stem = basename(file).replace(/\.credentials\.js$/, '');
	return `${stem.charAt(0).toLowerCase()}${stem.slice(1)}`;
});
const hasPromptTemplate = declaredNodeTypes.includes(`${PACKAGE}.promptTemplate`);

describe('n8n with n8n-nodes-promptlab installed as a community package', () => {
	let n8n: E2eN8n;

	beforeAll(async () => {
		n8n = await startE2eN8n({
			name: 'smoke',
			simulator: true,
			workflows: [fixture('echo.workflow.json'), ...(hasPromptTemplate ? [fixture('prompt-template.workflow.json')] : [])],
		});
	});

	afterAll(async () => {
		await n8n?.stop();
	});

	it('installed the package where n8n looks for community packages, with its own runtime dependencies', () => {
		const packageDir = join(n8n.userFolder, '.n8n', 'nodes', 'node_modules', PACKAGE);
		const installed = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
			version: string;
			peerDependencies?: unknown;
			devDependencies?: unknown;
		};
		expect(installed.version).toBe(manifest.version);
		// n8n's installer strips these, so n8n-workflow resolves to n8n's own copy.
		expect(installed.peerDependencies).toBeUndefined();
		expect(installed.devDependencies).toBeUndefined();
		for (const dependency of ['pg', 'undici', 'ws', 'zod']) {
			expect(existsSync(join(packageDir, 'node_modules', dependency, 'package.json'))).toBe(true);
		}
		expect(existsSync(join(packageDir, 'node_modules', 'n8n-workflow'))).toBe(false);
	});

	it('knows every node type and credential type the package declares', async () => {
		const nodeTypes = (await n8n.client.nodeTypes()).map((t) => t.name);
		expect(declaredNodeTypes.length).toBeGreaterThan(0);
		for (const type of declaredNodeTypes) expect(nodeTypes).toContain(type);

		const credentialTypes = (await n8n.client.credentialTypes()).map((t) => t.name);
		expect(declaredCredentialTypes).toContain(POSTGRES_CREDENTIAL_TYPE);
		for (const type of declaredCredentialTypes) expect(credentialTypes).toContain(type);
	});

	it('created the credentials: PromptLab Postgres on the data database, ComfyUI on the simulator', async () => {
		const postgres = await n8n.client.request<{ data: Record<string, unknown> }>(
			'GET',
			`/rest/credentials/${n8n.credentials[POSTGRES_CREDENTIAL_TYPE].id}`,
			undefined,
			{ includeData: 'true' },
		);
		const dataUrl = new URL(n8n.dataDatabaseUrl);
		expect(postgres.data).toMatchObject({
			host: dataUrl.hostname,
			port: Number(dataUrl.port),
			database: dataUrl.pathname.slice(1),
			schema: 'promptlab',
		});
		if (declaredCredentialTypes.includes(COMFYUI_CREDENTIAL_TYPE)) {
			const comfy = await n8n.client.request<{ data: Record<string, unknown> }>(
				'GET',
				`/rest/credentials/${n8n.credentials[COMFYUI_CREDENTIAL_TYPE].id}`,
				undefined,
				{ includeData: 'true' },
			);
			expect(comfy.data).toMatchObject({ baseUrl: n8n.sim?.url, authentication: 'none' });
		}
	});

	it('answers on the production webhook of a published workflow', async () => {
		const response = await n8n.postWebhook('promptlab-e2e-echo', { hello: 'world' });
		expect(response.status).toBe(200);
		expect(response.body).toEqual({ echo: { hello: 'world' }, executionMode: 'production' });
	});

	(hasPromptTemplate ? it : it.skip)('creates and renders a template through a webhook, stored in Postgres', async () => {
		const name = `e2e-poem-${Date.now()}`;
		const response = await n8n.postWebhook('promptlab-e2e-template', { name, topic: 'the sea' });
		expect(response.status).toBe(200);
		expect(response.body).toMatchObject({
			templateName: name,
			kind: 'text',
			version: 1,
			resolvedBy: expect.anything(),
			positivePrompt: 'A short poem about the sea',
			values: { topic: 'the sea' },
		});

		const templates = await n8n.queryData<{ id: string; kind: string; category: string; tags: string[]; latest_version: number }>(
			'SELECT id, kind, category, tags, latest_version FROM promptlab.templates WHERE name = $1',
			[name],
		);
		expect(templates).toEqual([{ id: expect.any(String), kind: 'text', category: 'e2e', tags: ['e2e', 'poem'], latest_version: 1 }]);
		const versions = await n8n.queryData<{ version: number; positive_prompt: string; commit_message: string }>(
			'SELECT version, positive_prompt, commit_message FROM promptlab.template_versions WHERE template_id = $1',
			[templates[0].id],
		);
		expect(versions).toEqual([{ version: 1, positive_prompt: 'A short poem about {{topic}}', commit_message: 'created by the e2e webhook' }]);
		const labels = await n8n.queryData<{ label: string; version: number }>(
			`SELECT l.label, v.version FROM promptlab.template_labels l
			 JOIN promptlab.template_versions v ON v.id = l.version_id WHERE l.template_id = $1`,
			[templates[0].id],
		);
		expect(labels).toEqual([{ label: 'production', version: 1 }]);
	});

	(hasPromptTemplate ? it : it.skip)('fails the execution with a clear message when the template name is taken', async () => {
		const name = `e2e-dup-${Date.now()}`;
		expect((await n8n.postWebhook('promptlab-e2e-template', { name, topic: 'a' })).status).toBe(200);
		const second = await n8n.postWebhook('promptlab-e2e-template', { name, topic: 'b' });
		// With "Respond to Webhook" never reached, n8n 2.8 answers 200 with an empty body; the
		// failure and its message are in the execution, where the editor shows them.
		expect(second.body).toBe('');
		const failed = await n8n.latestExecution(n8n.webhook('promptlab-e2e-template').workflowId);
		expect(failed.status).toBe('error');
		expect(failed.data).toContain(`A template named \\"${name}\\" already exists`);
		const rows = await n8n.queryData<{ n: string }>('SELECT count(*)::text AS n FROM promptlab.templates WHERE name = $1', [name]);
		expect(rows[0].n).toBe('1');
	});
});
