/**
 * Loading the shipped workflow JSONs, pointing their credentials at the ones created in this n8n,
 * importing them and publishing the ones that have a trigger, and listing their webhook URLs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import type { Log } from './proc';
import { N8nApiError, type CredentialSummary, type N8nRestClient, type StoredWorkflow, type WorkflowJson, type WorkflowNode } from './rest';

export interface WorkflowFile {
	file: string;
	/** sha256 of the file: tells whether it changed since it was last imported. */
	sha256: string;
	workflow: WorkflowJson & { id: string };
}

export interface WebhookEndpoint {
	workflowId: string;
	workflowName: string;
	nodeName: string;
	method: string;
	path: string;
	/** Production URL (answers only while the workflow is published). */
	url: string;
}

export interface DeployedWorkflow {
	id: string;
	name: string;
	file: string;
	/** False when the file was unchanged since the last import and the stored workflow was kept. */
	imported: boolean;
	active: boolean;
	/** Why publishing failed (n8n's message), when it did. */
	activationError?: string;
	webhooks: WebhookEndpoint[];
}

/** Triggers that cannot be published (they only start manual or sub-workflow runs). */
const NOT_ACTIVATABLE = new Set([
	'n8n-nodes-base.manualTrigger',
	'n8n-nodes-base.executeWorkflowTrigger',
	'n8n-nodes-base.errorTrigger',
	'n8n-nodes-base.start',
]);

const WEBHOOK_TYPES = new Set(['n8n-nodes-base.webhook', 'n8n-nodes-base.formTrigger', '@n8n/n8n-nodes-langchain.chatTrigger']);

function isTrigger(node: WorkflowNode): boolean {
	if (node.disabled || NOT_ACTIVATABLE.has(node.type)) return false;
	return WEBHOOK_TYPES.has(node.type) || /trigger$/i.test(node.type);
}

/** n8n workflow ids are 16 alphanumerics; files without one get a stable id from their name. */
export function stableWorkflowId(seed: string): string {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	const digest = createHash('sha256').update(seed).digest();
	return Array.from(digest.subarray(0, 16), (byte) => alphabet[byte % alphabet.length]).join('');
}

function stableUuid(seed: string): string {
	const hex = createHash('sha256').update(seed).digest('hex');
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Reads `*.json` workflow exports from the given files or directories (sorted by file name). */
export function loadWorkflowFiles(paths: string[]): WorkflowFile[] {
	const files: string[] = [];
	for (const path of paths) {
		if (!existsSync(path)) continue;
		if (path.endsWith('.json')) files.push(path);
		else
			files.push(
				...readdirSync(path)
					.filter((f) => f.endsWith('.json'))
					.sort()
					.map((f) => join(path, f)),
			);
	}
	return files.map((file) => {
		const text = readFileSync(file, 'utf8');
		const parsed = JSON.parse(text) as WorkflowJson;
		if (!Array.isArray(parsed.nodes) || typeof parsed.connections !== 'object') {
			throw new Error(`${file} is not an n8n workflow export (needs "nodes" and "connections")`);
		}
		const id = typeof parsed.id === 'string' && parsed.id ? parsed.id : stableWorkflowId(`promptlab:${basename(file)}`);
		return { file, sha256: createHash('sha256').update(text).digest('hex'), workflow: { ...parsed, id } };
	});
}

/**
 * Points every node credential of a type we created at the created credential (ids in exported
 * JSON belong to the exporting instance), and gives webhook nodes a webhookId like the editor does.
 */
export function bindCredentials(
	workflow: WorkflowJson & { id: string },
	credentials: Record<string, CredentialSummary>,
	log?: Log,
): WorkflowJson & { id: string } {
	const nodes = workflow.nodes.map((node) => {
		const next: WorkflowNode = { ...node };
		if (node.credentials) {
			next.credentials = {};
			for (const [type, reference] of Object.entries(node.credentials)) {
				const created = credentials[type];
				if (created) next.credentials[type] = { id: created.id, name: created.name };
				else {
					next.credentials[type] = reference;
					log?.(`workflow "${workflow.name}", node "${node.name}": no "${type}" credential was created; left as exported`);
				}
			}
		}
		if ((WEBHOOK_TYPES.has(node.type) || isTrigger(node)) && !node.webhookId) {
			next.webhookId = stableUuid(`${workflow.id}:${node.name}`);
		}
		return next;
	});
	return { ...workflow, nodes };
}

export function webhookEndpoints(workflow: WorkflowJson & { id: string }, publicUrl: string): WebhookEndpoint[] {
	const base = publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`;
	const endpoints: WebhookEndpoint[] = [];
	for (const node of workflow.nodes) {
		if (node.disabled || node.type !== 'n8n-nodes-base.webhook') continue;
		const path = String(node.parameters.path ?? '').replace(/^\//, '');
		const methods = node.parameters.multipleMethods
			? ((node.parameters.httpMethod as string[] | undefined) ?? ['GET', 'POST'])
			: [String(node.parameters.httpMethod ?? 'GET')];
		for (const method of methods) {
			endpoints.push({ workflowId: workflow.id, workflowName: workflow.name, nodeName: node.name, method, path, url: `${base}webhook/${path}` });
		}
	}
	return endpoints;
}

/** n8n's own reason for refusing to publish (its JSON `message`), without the stack trace. */
function activationMessage(error: unknown): string {
	if (error instanceof N8nApiError) {
		try {
			const message = (JSON.parse(error.body) as { message?: unknown }).message;
			if (typeof message === 'string' && message) return message;
		} catch {
			// not JSON: fall back to the whole error
		}
	}
	return error instanceof Error ? error.message : String(error);
}

/** Adjusts a workflow before it is imported (e.g. settings taken from the environment by `npm start`). */
export type PrepareWorkflow = (workflow: WorkflowJson & { id: string }) => WorkflowJson & { id: string };

/**
 * The value of one field of a Set node ("Edit Fields", typeVersion 3.3+) in a workflow copy, e.g.
 * the recipients in the weekly report's "Report Settings". Unknown node or field: an error.
 */
export function setAssignment(workflow: WorkflowJson & { id: string }, nodeName: string, field: string, value: string): WorkflowJson & { id: string } {
	let found = false;
	const nodes = workflow.nodes.map((node) => {
		if (node.name !== nodeName) return node;
		const assignments = (node.parameters.assignments as { assignments?: Array<{ name: string; value: unknown }> } | undefined)?.assignments;
		if (!assignments?.some((a) => a.name === field)) return node;
		found = true;
		return {
			...node,
			parameters: {
				...node.parameters,
				assignments: { assignments: assignments.map((a) => (a.name === field ? { ...a, value } : a)) },
			},
		};
	});
	if (!found) throw new Error(`workflow "${workflow.name}" has no Set node "${nodeName}" with a field "${field}"`);
	return { ...workflow, nodes };
}

/**
 * Imports (creates or updates by id) every workflow and publishes each one that has a trigger.
 * A workflow that n8n refuses to publish is reported, not fatal: the others still deploy.
 *
 * With `previouslyImported` (workflow id → sha256 of the file and its credential binding at the
 * last import, updated in place), a workflow whose file did not change is left as it is in n8n: edits made in the editor and an
 * unpublish survive a restart. A changed file is imported again (the file wins) and republished.
 */
export async function deployWorkflows(
	client: N8nRestClient,
	files: WorkflowFile[],
	credentials: Record<string, CredentialSummary>,
	publicUrl: string,
	options: { log?: Log; previouslyImported?: Record<string, string>; prepare?: PrepareWorkflow } = {},
): Promise<DeployedWorkflow[]> {
	const { log, previouslyImported, prepare } = options;
	const deployed: DeployedWorkflow[] = [];
	for (const file of files) {
		const workflow = prepare ? prepare(file.workflow) : file.workflow;
		const bound = bindCredentials(workflow, credentials, log);
		// What `prepare` or the credential binding changed (e.g. an SMTP credential created since the
		// last start) counts like a change of the file: the workflow is imported again.
		const sha256 = createHash('sha256').update(file.sha256).update(JSON.stringify(bound)).digest('hex');
		const fileName = file.file;
		if (previouslyImported?.[workflow.id] === sha256 && (await client.workflowExists(workflow.id))) {
			const stored = await client.getWorkflow(workflow.id);
			deployed.push({
				id: stored.id,
				name: stored.name,
				file: fileName,
				imported: false,
				active: stored.active,
				webhooks: webhookEndpoints({ ...stored, id: stored.id }, publicUrl),
			});
			continue;
		}
		const stored: StoredWorkflow = await client.upsertWorkflow(bound);
		const entry: DeployedWorkflow = {
			id: stored.id,
			name: stored.name,
			file: fileName,
			imported: true,
			active: false,
			webhooks: webhookEndpoints(bound, publicUrl),
		};
		if (bound.nodes.some(isTrigger)) {
			try {
				const activated = await client.activateWorkflow(stored.id, stored.versionId);
				entry.active = activated.active;
			} catch (error) {
				entry.activationError = activationMessage(error);
				log?.(`could not publish "${stored.name}" (${basename(fileName)}): ${entry.activationError}`);
			}
		}
		if (previouslyImported) previouslyImported[workflow.id] = sha256;
		deployed.push(entry);
	}
	return deployed;
}
