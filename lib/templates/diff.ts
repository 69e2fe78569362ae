import { diffArrays } from 'diff';

import type { VariableDefinition } from './variables';
import { canonicalJson, type ApiWorkflow, type JsonValue } from './workflow';

/**
 * Differences between two template versions, for the "Diff versions" operation.
 *
 * Text diffs are token diffs computed by jsdiff (Myers' algorithm) over our own tokens: prompts
 * are diffed by words (runs of whitespace and of non-whitespace, so "man," is one token), because
 * most prompts are one long line and a line diff would only say "all changed". Adjacent parts with
 * the same op are merged, and joining the `equal`+`remove` parts gives the old text exactly,
 * `equal`+`add` the new one. When the two texts need more than MAX_DIFF_EDITS token edits (after
 * trimming the common start and end) jsdiff gives up and the middle is reported as one remove and
 * one add, so a pathological pair of prompts cannot stall a worker.
 */

export type DiffOp = 'equal' | 'add' | 'remove';
export interface LineDiff {
	op: DiffOp;
	text: string;
}
export type TextDiff = LineDiff[];

/**
 * Most token edits (insertions + deletions) an exact diff may need; beyond it the middle is one
 * remove + one add. jsdiff's Myers costs about edits² steps with an object per step: 1,000 edits
 * (two unrelated prompts of ~500 words) take a few hundred milliseconds on a busy machine.
 */
export const MAX_DIFF_EDITS = 1_000;
/**
 * Myers' algorithm costs up to (tokens of both texts) × (edits) steps: for long texts the edit
 * budget shrinks so that product stays below this (≈ a few hundred milliseconds at worst).
 */
export const MAX_DIFF_WORK = 20_000_000;

const LINE_TOKENS = /[^\n]*\n|[^\n]+/g;
const WORD_TOKENS = /\s+|\S+/g;

export function diffLines(a: string, b: string): TextDiff {
	return diffTokens(a.match(LINE_TOKENS) ?? [], b.match(LINE_TOKENS) ?? []);
}

export function diffWords(a: string, b: string): TextDiff {
	return diffTokens(a.match(WORD_TOKENS) ?? [], b.match(WORD_TOKENS) ?? []);
}

function diffTokens(a: string[], b: string[]): TextDiff {
	const parts: TextDiff = [];
	const push = (op: DiffOp, text: string) => {
		if (text === '') return;
		const last = parts[parts.length - 1];
		if (last && last.op === op) last.text += text;
		else parts.push({ op, text });
	};

	// The common ends are cheap to find and keep the fallback below readable (only the middle differs).
	let start = 0;
	while (start < a.length && start < b.length && a[start] === b[start]) start++;
	let endA = a.length;
	let endB = b.length;
	while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
		endA--;
		endB--;
	}
	push('equal', a.slice(0, start).join(''));
	const middleA = a.slice(start, endA);
	const middleB = b.slice(start, endB);
	const budget = Math.max(1, Math.min(MAX_DIFF_EDITS, Math.floor(MAX_DIFF_WORK / (middleA.length + middleB.length + 1))));
	const changes = diffArrays(middleA, middleB, { maxEditLength: budget });
	if (changes) {
		for (const change of changes) push(change.added ? 'add' : change.removed ? 'remove' : 'equal', change.value.join(''));
	} else {
		push('remove', middleA.join(''));
		push('add', middleB.join(''));
	}
	push('equal', a.slice(endA).join(''));
	return parts;
}

export interface InputChange {
	name: string;
	kind: 'added' | 'removed' | 'changed';
	/** Absent when the input was added. */
	from?: JsonValue;
	/** Absent when the input was removed. */
	to?: JsonValue;
}

export interface NodeChange {
	nodeId: string;
	/** class_type in the newer version. */
	classType: string;
	/** Set when the node's class_type changed (same id, different node). */
	previousClassType?: string;
	inputs: InputChange[];
	/** Set when _meta (the node's title in ComfyUI) changed. */
	meta?: { from?: JsonValue; to?: JsonValue };
}

export interface WorkflowDiff {
	added: string[];
	removed: string[];
	changed: NodeChange[];
}

export interface VariableChange {
	name: string;
	/** Properties that differ: 'type', 'default', 'options', 'required', ... */
	fields: string[];
	from: VariableDefinition;
	to: VariableDefinition;
}

export interface VariablesDiff {
	added: VariableDefinition[];
	removed: VariableDefinition[];
	changed: VariableChange[];
}

export interface VersionContent {
	version?: number;
	positivePrompt?: string | null;
	negativePrompt?: string | null;
	workflow?: ApiWorkflow | null;
	variables?: readonly VariableDefinition[] | null;
}

export interface VersionDiff {
	fromVersion?: number;
	toVersion?: number;
	positivePrompt: TextDiff;
	negativePrompt: TextDiff;
	workflow: WorkflowDiff;
	variables: VariablesDiff;
	/** True when nothing that affects rendering differs (variable order is not a difference). */
	identical: boolean;
}

/** What changed from version `a` to version `b`. */
export function diffVersions(a: VersionContent, b: VersionContent): VersionDiff {
	const positivePrompt = diffWords(a.positivePrompt ?? '', b.positivePrompt ?? '');
	const negativePrompt = diffWords(a.negativePrompt ?? '', b.negativePrompt ?? '');
	const workflow = diffWorkflows(a.workflow ?? null, b.workflow ?? null);
	const variables = diffVariables(a.variables ?? [], b.variables ?? []);
	const textSame = (d: TextDiff) => d.every((part) => part.op === 'equal');
	const identical =
		textSame(positivePrompt) &&
		textSame(negativePrompt) &&
		workflow.added.length + workflow.removed.length + workflow.changed.length === 0 &&
		variables.added.length + variables.removed.length + variables.changed.length === 0;
	return { fromVersion: a.version, toVersion: b.version, positivePrompt, negativePrompt, workflow, variables, identical };
}

/** Node-level differences; node ids in natural order ("2" before "10"). */
export function diffWorkflows(a: ApiWorkflow | null, b: ApiWorkflow | null): WorkflowDiff {
	const before = a ?? {};
	const after = b ?? {};
	const has = (w: ApiWorkflow, id: string) => Object.prototype.hasOwnProperty.call(w, id);
	const added = Object.keys(after).filter((id) => !has(before, id)).sort(naturalCompare);
	const removed = Object.keys(before).filter((id) => !has(after, id)).sort(naturalCompare);
	const changed: NodeChange[] = [];
	for (const nodeId of Object.keys(after).filter((id) => has(before, id)).sort(naturalCompare)) {
		const from = before[nodeId];
		const to = after[nodeId];
		const inputs: InputChange[] = [];
		const names = new Set([...Object.keys(from.inputs), ...Object.keys(to.inputs)]);
		for (const name of [...names].sort()) {
			const inFrom = Object.prototype.hasOwnProperty.call(from.inputs, name);
			const inTo = Object.prototype.hasOwnProperty.call(to.inputs, name);
			if (!inTo) inputs.push({ name, kind: 'removed', from: from.inputs[name] });
			else if (!inFrom) inputs.push({ name, kind: 'added', to: to.inputs[name] });
			else if (canonicalJson(from.inputs[name]) !== canonicalJson(to.inputs[name])) {
				inputs.push({ name, kind: 'changed', from: from.inputs[name], to: to.inputs[name] });
			}
		}
		const change: NodeChange = { nodeId, classType: to.class_type, inputs };
		if (from.class_type !== to.class_type) change.previousClassType = from.class_type;
		if (canonicalJson(from._meta ?? null) !== canonicalJson(to._meta ?? null)) change.meta = { from: from._meta, to: to._meta };
		if (inputs.length || change.previousClassType !== undefined || change.meta) changed.push(change);
	}
	return { added, removed, changed };
}

export function diffVariables(a: readonly VariableDefinition[], b: readonly VariableDefinition[]): VariablesDiff {
	const before = new Map(a.map((d) => [d.name, d]));
	const after = new Map(b.map((d) => [d.name, d]));
	const added = b.filter((d) => !before.has(d.name));
	const removed = a.filter((d) => !after.has(d.name));
	const changed: VariableChange[] = [];
	for (const to of b) {
		const from = before.get(to.name);
		if (!from) continue;
		const fromRecord = from as unknown as Record<string, unknown>;
		const toRecord = to as unknown as Record<string, unknown>;
		const keys = new Set([...Object.keys(fromRecord), ...Object.keys(toRecord)]);
		const fields = [...keys]
			.filter((key) => canonicalJson(fromRecord[key] ?? null) !== canonicalJson(toRecord[key] ?? null))
			.sort();
		if (fields.length) changed.push({ name: to.name, fields, from, to });
	}
	return { added, removed, changed };
}

function naturalCompare(x: string, y: string): number {
	return x.localeCompare(y, 'en', { numeric: true });
}
