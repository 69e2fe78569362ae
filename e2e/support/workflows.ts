/**
 * The shipped workflows (workflows/*.json) for e2e tests, modified copies of them (e.g. the
 * feedback webhook with header auth switched on) written to a temporary folder, and the checks of
 * their error answers (the code contract, nothing internal given away).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

import { readRepoManifest } from '../../scripts/n8n/package';
import { REPO_ROOT } from '../../scripts/n8n/paths';
import type { WorkflowJson, WorkflowNode } from '../../scripts/n8n/rest';

export function shippedWorkflow(file: string): string {
	return join(REPO_ROOT, 'workflows', file);
}

export function readWorkflow(file: string): WorkflowJson & { id: string } {
	return JSON.parse(readFileSync(file, 'utf8')) as WorkflowJson & { id: string };
}

export function findNode(workflow: WorkflowJson, name: string): WorkflowNode {
	const node = workflow.nodes.find((n) => n.name === name);
	if (!node) throw new Error(`workflow "${workflow.name}" has no node "${name}"`);
	return node;
}

/** Writes `workflow` to a temporary file (for startE2eN8n's `workflows`) and returns its path. */
export function writeWorkflowCopy(workflow: WorkflowJson & { id: string }, fileName: string): string {
	const dir = mkdtempSync(join(tmpdir(), 'promptlab-e2e-workflows-'));
	const file = join(dir, fileName);
	writeFileSync(file, JSON.stringify(workflow, null, '\t'));
	return file;
}

/**
 * Node types a workflow needs that package.json's n8n block does not declare (so n8n would not
 * load them): `n8n-nodes-promptlab.recordFeedback` ← dist/nodes/RecordFeedback/RecordFeedback.node.js.
 */
export function undeclaredPromptLabNodes(workflowFile: string): string[] {
	const manifest = readRepoManifest();
	const declared = new Set(
		(manifest.n8n?.nodes ?? []).map((file) => {
			const stem = (file.split('/').pop() ?? '').replace(/\.node\.js$/, '');
			return `${manifest.name}.${stem.charAt(0).toLowerCase()}${stem.slice(1)}`;
		}),
	);
	const used = readWorkflow(workflowFile).nodes.map((n) => n.type).filter((t) => t.startsWith(`${manifest.name}.`));
	return [...new Set(used)].filter((t) => !declared.has(t));
}

/**
 * Fails early, with the fix, when a shipped workflow uses a node the package does not declare —
 * unless the tarball under test came from PROMPTLAB_E2E_TARBALL (it carries its own package.json).
 */
export function assertNodesDeclared(workflowFiles: string[]): void {
	if (process.env.PROMPTLAB_E2E_TARBALL_GIVEN === '1') return;
	const missing = [...new Set(workflowFiles.flatMap(undeclaredPromptLabNodes))];
	if (missing.length > 0) {
		throw new Error(
			`These workflows use node types that package.json's "n8n.nodes" does not declare, so n8n cannot load them: ${missing.join(', ')}. ` +
				'Add dist/nodes/<Name>/<Name>.node.js for each to package.json.',
		);
	}
}

/** The 200 answer of workflows/generation.json. */
export interface GenerationAnswer {
	executionId: string;
	promptId: string;
	status: string;
	template: { id: string; name: string; version: number };
	campaign: { id: string; name: string; variant: string; variantId: string } | null;
	userId: string;
	seed: number;
	durationMs: number;
	positivePrompt: string;
	imageCount: number;
	images: Array<{ filename: string; mimeType: string; bytes: number; sha256: string; nodeId: string; base64: string }>;
}

/** Every error answer of the shipped workflows: `code` from lib/errors.ts ERROR_CODES, with the status of its kind. */
export interface ErrorAnswer {
	code: string;
	error: string;
	field: string | null;
	hint: string | null;
}

/**
 * Asserts an error answer of a shipped workflow: the status, the contract's four keys, its `code`
 * (and `field`, when given: `null` for none), and that it gives nothing away (see expectNoInternals).
 */
export function expectErrorAnswer(
	answer: { status: number; body: unknown; text?: string },
	expected: { status: number; code: string; field?: string | null },
): ErrorAnswer {
	const body = answer.body as ErrorAnswer;
	expect({ status: answer.status, code: body?.code }).toEqual({ status: expected.status, code: expected.code });
	expect(body).toEqual(expect.objectContaining({ error: expect.any(String), field: expected.field === undefined ? body.field : expected.field }));
	expect(Object.keys(body)).toEqual(expect.arrayContaining(['code', 'error', 'field', 'hint']));
	expectNoInternals(answer.text ?? JSON.stringify(answer.body));
	return body;
}

/** Stack lines ("    at fn (/path/file.js:1:2)") and local paths (node_modules, the repository, temp and home folders). */
const INTERNALS: Array<[string, RegExp]> = [
	['a stack trace line', /\bat (?:async )?[\w$.<>\s[\]]*\(?(?:\/|file:|node:)[^\s)]*:\d+:\d+\)?/],
	['a stack trace', /"stack(?:trace)?"\s*:/],
	['a node_modules path', /node_modules/],
	['the repository path', new RegExp(escapeRegExp(REPO_ROOT))],
	['a temporary folder path', new RegExp(`${escapeRegExp(tmpdir())}/`)],
	['a home folder path', new RegExp(`${escapeRegExp(homedir())}/`)],
];

function escapeRegExp(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Asserts that an answer's text shows no stack trace and no filesystem path of the server. */
export function expectNoInternals(text: string): void {
	const found = INTERNALS.filter(([, pattern]) => pattern.test(text)).map(([what]) => what);
	expect({ found, text: text.slice(0, 2000) }).toEqual({ found: [], text: text.slice(0, 2000) });
}
