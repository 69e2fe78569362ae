import { createHash } from 'node:crypto';

import { ValidationError } from '../errors';
import { findTextProblem, textProblem } from '../validation';
import { describeValue } from './describe';

/**
 * ComfyUI API ("prompt") format workflows: parsing with UI-format detection, canonical JSON and
 * checksum, and the parameter overrides applied by the ComfyUI Execute node.
 * See /work/shared/research/comfyui-protocol.md §3.2.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface ApiNode {
	class_type: string;
	inputs: JsonObject;
	_meta?: JsonObject;
	[key: string]: JsonValue | undefined;
}
/** node id → node. Node ids are strings ("3", "12", "12:4" for subgraph-expanded nodes). */
export type ApiWorkflow = Record<string, ApiNode>;

export const UI_FORMAT_MESSAGE =
	"This is ComfyUI's UI (editor) format, not the API format a server runs. Export the API format instead: " +
	"in ComfyUI use Workflow → Export (API) (older versions: enable Settings → Comfy → Dev mode, then " +
	"'Save (API Format)') and paste the content of the file it saves.";

/** A link input: [source node id, output index]. ComfyUI treats every 2-element list of this shape as a link. */
export function isLink(value: unknown): value is [string, number] {
	return (
		Array.isArray(value) &&
		value.length === 2 &&
		typeof value[0] === 'string' &&
		typeof value[1] === 'number' &&
		Number.isInteger(value[1]) &&
		value[1] >= 0
	);
}

/**
 * JSON with object keys sorted (by UTF-16 code units, the default sort) and no whitespace.
 * Equal for any two values that JSON-compare equal, whatever the key order or formatting of the
 * text they came from. Refuses what JSON cannot represent exactly (NaN, Infinity, bigint,
 * functions, cycles) instead of silently writing null like JSON.stringify.
 */
export function canonicalJson(value: unknown): string {
	const parts: string[] = [];
	writeCanonical(value, parts, new Set());
	return parts.join('');
}

function writeCanonical(value: unknown, out: string[], ancestors: Set<object>): void {
	if (value === null) {
		out.push('null');
		return;
	}
	switch (typeof value) {
		case 'string':
		case 'boolean':
			out.push(JSON.stringify(value));
			return;
		case 'number':
			if (!Number.isFinite(value)) throw new ValidationError('invalid_input', `canonicalJson: ${value} has no JSON representation`);
			out.push(JSON.stringify(value));
			return;
		case 'object':
			break;
		default:
			throw new ValidationError('invalid_input', `canonicalJson: a ${typeof value} has no JSON representation`);
	}
	const object = value as object;
	if (ancestors.has(object)) throw new ValidationError('invalid_input', 'canonicalJson: the value contains a cycle');
	ancestors.add(object);
	if (Array.isArray(object)) {
		out.push('[');
		object.forEach((item, i) => {
			if (i > 0) out.push(',');
			// JSON.stringify writes null for holes and undefined items; so do we.
			if (item === undefined) out.push('null');
			else writeCanonical(item, out, ancestors);
		});
		out.push(']');
	} else {
		const record = object as Record<string, unknown>;
		const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
		out.push('{');
		keys.forEach((key, i) => {
			if (i > 0) out.push(',');
			out.push(JSON.stringify(key), ':');
			writeCanonical(record[key], out, ancestors);
		});
		out.push('}');
	}
	ancestors.delete(object);
}

/**
 * sha256 (hex) of the canonical JSON: stored as template_versions.workflow_checksum. Pasting the
 * same workflow with other key order or whitespace gives the same checksum; changing any value
 * (including _meta titles) gives another one.
 */
export function workflowChecksum(workflow: unknown): string {
	return createHash('sha256').update(canonicalJson(workflow), 'utf8').digest('hex');
}

/** True when `workflow` is a ComfyUI UI/editor export (top-level `nodes` array, usually with `links`). */
export function isUiFormatWorkflow(value: unknown): boolean {
	if (!isPlainObject(value)) return false;
	if (Array.isArray(value.nodes) && (Array.isArray(value.links) || 'last_node_id' in value || 'version' in value)) return true;
	// PNG metadata / some tools: { workflow: <UI format> } without an API `prompt` next to it.
	return !('prompt' in value) && isPlainObject(value.workflow) && Array.isArray(value.workflow.nodes);
}

/** The workflow is refused: code workflow_invalid, field `workflow`, the node (if one) in details. */
function invalidWorkflow(message: string, nodeId?: string): ValidationError {
	return new ValidationError('workflow_invalid', message, {
		field: 'workflow',
		...(nodeId !== undefined ? { details: { nodeId } } : {}),
	});
}

function uiFormatWorkflow(): ValidationError {
	return new ValidationError('workflow_ui_format', "The workflow is in ComfyUI's UI (editor) format, not the API format a server runs", {
		field: 'workflow',
		hint: UI_FORMAT_MESSAGE,
	});
}

/**
 * Parses what a user pasted (JSON text or an object) into an API-format workflow, returning a
 * deep copy (the input is never aliased).
 *
 * Accepted: the API format itself, or an object wrapping it in `prompt` (the body of POST /prompt,
 * `{ prompt, client_id?, extra_data? }`); the other keys of the wrapper are dropped. A top-level
 * `prompt` that has a class_type is a node called "prompt", not a wrapper.
 * Refused with a ValidationError, field `workflow`: UI format ('workflow_ui_format', the hint says
 * how to export the API format), invalid JSON ('workflow_invalid' with line/column), anything not
 * shaped like the API format ('workflow_invalid' naming the node in the message and details.nodeId).
 */
export function parseApiWorkflow(input: unknown): ApiWorkflow {
	let value = input;
	if (typeof value === 'string') value = parseJsonText(value);
	if (isPlainObject(value) && isPlainObject(value.prompt) && typeof value.prompt.class_type !== 'string') {
		if (isUiFormatWorkflow(value.prompt)) throw uiFormatWorkflow();
		value = value.prompt;
	}
	if (isUiFormatWorkflow(value)) throw uiFormatWorkflow();
	if (!isPlainObject(value)) {
		throw invalidWorkflow(
			`The workflow must be a JSON object of node id → { class_type, inputs } (ComfyUI API format), got ${describeValue(value)}`,
		);
	}
	const ids = Object.keys(value);
	if (ids.length === 0) throw invalidWorkflow('The workflow has no nodes');

	const workflow: ApiWorkflow = {};
	for (const id of ids) {
		const node = value[id];
		const where = `Workflow node "${id}"`;
		if (!isPlainObject(node)) throw invalidWorkflow(`${where} must be an object with class_type and inputs, got ${describeValue(node)}`, id);
		if (typeof node.class_type !== 'string' || node.class_type.trim() === '') {
			throw invalidWorkflow(`${where} has no class_type (is this the ComfyUI API format?)`, id);
		}
		if (!isPlainObject(node.inputs)) throw invalidWorkflow(`${where} (${node.class_type}) has no inputs object`, id);
		if (node._meta !== undefined && !isPlainObject(node._meta)) {
			throw invalidWorkflow(`${where} (${node.class_type}): _meta must be an object`, id);
		}
		workflow[id] = cloneJson(node, `${where} (${node.class_type})`, id) as ApiNode;
	}
	for (const [id, node] of Object.entries(workflow)) {
		for (const [name, input] of Object.entries(node.inputs)) {
			if (isLink(input) && !Object.prototype.hasOwnProperty.call(workflow, input[0])) {
				throw invalidWorkflow(
					`Workflow node "${id}" (${node.class_type}) input "${name}" is linked to node "${input[0]}", which is not in the workflow`,
					id,
				);
			}
		}
	}
	return workflow;
}

function parseJsonText(text: string): unknown {
	const source = text.replace(/^\uFEFF/, '');
	if (source.trim() === '') throw invalidWorkflow('The workflow JSON is empty');
	try {
		return JSON.parse(source);
	} catch (error) {
		const message = (error as Error).message;
		const position = /position (\d+)/.exec(message);
		let where = '';
		if (position && !/line \d+/.test(message)) {
			const offset = Number(position[1]);
			const before = source.slice(0, offset);
			const line = before.split('\n').length;
			const column = offset - before.lastIndexOf('\n');
			where = ` (line ${line}, column ${column})`;
		} else if (/end of JSON/i.test(message)) {
			where = ' (the text ends too early: was it cut off when copying?)';
		}
		throw invalidWorkflow(`The workflow is not valid JSON: ${message}${where}`);
	}
}

/** Deep copy that refuses values JSON cannot carry, so the stored workflow equals what ComfyUI gets. */
function cloneJson(value: unknown, where: string, nodeId: string): JsonValue {
	if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
	if (typeof value === 'number') {
		if (Number.isFinite(value)) return value;
		throw invalidWorkflow(`${where} contains ${value}, which JSON cannot represent`, nodeId);
	}
	if (Array.isArray(value)) return value.map((item) => cloneJson(item, where, nodeId));
	if (isPlainObject(value)) {
		const copy: JsonObject = {};
		for (const [key, item] of Object.entries(value)) {
			if (item !== undefined) copy[key] = cloneJson(item, where, nodeId);
		}
		return copy;
	}
	throw invalidWorkflow(`${where} contains ${describeValue(value)}, which JSON cannot represent`, nodeId);
}

/**
 * parseApiWorkflow for a workflow a caller sends (a new template version, a raw workflow to run):
 * also refuses text Postgres cannot store or that was not UTF-8 (NUL, lone surrogate, U+FFFD) in
 * any input, key or title, with code invalid_text, field `workflow` and the node in details.
 * (parseApiWorkflow alone stays tolerant: it also reads workflows stored before this rule.)
 */
export function parseWorkflowInput(input: unknown): ApiWorkflow {
	const workflow = parseApiWorkflow(input);
	const bad = findTextProblem(workflow);
	if (bad) {
		const [nodeId, ...path] = bad.path.map(String);
		throw new ValidationError('invalid_text', `Workflow node "${nodeId}"${path.length ? ` ${path.join('.')}` : ''}: the text ${bad.problem}`, {
			field: 'workflow',
			details: { nodeId, path: path.join('.') },
		});
	}
	return workflow;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
	const proto = Object.getPrototypeOf(value);
	return proto === Object.prototype || proto === null;
}

export interface SeedInput {
	nodeId: string;
	classType: string;
	input: 'seed' | 'noise_seed';
	value: number;
}

/** Every numeric seed/noise_seed input (KSampler, KSamplerAdvanced, RandomNoise, ...). Linked seeds are skipped. */
export function findSeedInputs(workflow: ApiWorkflow): SeedInput[] {
	const found: SeedInput[] = [];
	for (const [nodeId, node] of Object.entries(workflow)) {
		for (const input of ['seed', 'noise_seed'] as const) {
			const value = node.inputs[input];
			if (typeof value === 'number') found.push({ nodeId, classType: node.class_type, input, value });
		}
	}
	return found;
}

export interface WorkflowOverrides {
	seed?: number;
	steps?: number;
	cfg?: number;
	width?: number;
	height?: number;
	/** Checkpoint file name as ComfyUI lists it (ckpt_name), e.g. "sd_xl_base_1.0.safetensors". */
	checkpoint?: string;
}

export interface OverrideChange {
	nodeId: string;
	classType: string;
	input: string;
	from: JsonValue;
	to: JsonValue;
}

export interface OverrideResult {
	workflow: ApiWorkflow;
	changes: OverrideChange[];
	/** Overrides given but matching no node (the node may warn: "no KSampler-like node for steps"). */
	unmatched: (keyof WorkflowOverrides)[];
}

const MAX_RESOLUTION = 16384; // ComfyUI nodes.MAX_RESOLUTION

/**
 * Sets generation parameters on the nodes that carry them, by input shape rather than class name so
 * that custom samplers and loaders work too:
 * - seed → every numeric `seed` / `noise_seed` input;
 * - steps, cfg → every numeric `steps` / `cfg` input (KSampler, KSamplerAdvanced, BasicScheduler, CFGGuider, ...);
 * - width, height → latent-creating nodes: class_type starting with "Empty" and containing "Latent", or
 *   numeric width, height and batch_size inputs (ImageScale and the SDXL text encoder's width/height are
 *   not image sizes to override, and have no batch_size);
 * - checkpoint → every string `ckpt_name` input (CheckpointLoaderSimple, CheckpointLoader, ...).
 * Linked inputs are never replaced. Returns a new workflow; the input is not mutated.
 */
export function applyOverrides(workflow: ApiWorkflow, overrides: WorkflowOverrides): OverrideResult {
	validateOverrides(overrides);
	const result = cloneJson(workflow, 'Workflow', 'workflow') as ApiWorkflow;
	const changes: OverrideChange[] = [];
	const matched = new Set<keyof WorkflowOverrides>();

	const set = (nodeId: string, node: ApiNode, input: string, key: keyof WorkflowOverrides, to: JsonValue) => {
		matched.add(key);
		const from = node.inputs[input];
		if (from === to) return;
		node.inputs[input] = to;
		changes.push({ nodeId, classType: node.class_type, input, from, to });
	};

	for (const [nodeId, node] of Object.entries(result)) {
		const inputs = node.inputs;
		if (overrides.seed !== undefined) {
			for (const input of ['seed', 'noise_seed']) {
				if (typeof inputs[input] === 'number') set(nodeId, node, input, 'seed', overrides.seed);
			}
		}
		if (overrides.steps !== undefined && typeof inputs.steps === 'number') set(nodeId, node, 'steps', 'steps', overrides.steps);
		if (overrides.cfg !== undefined && typeof inputs.cfg === 'number') set(nodeId, node, 'cfg', 'cfg', overrides.cfg);
		if (isLatentSizeNode(node)) {
			if (overrides.width !== undefined) set(nodeId, node, 'width', 'width', overrides.width);
			if (overrides.height !== undefined) set(nodeId, node, 'height', 'height', overrides.height);
		}
		if (overrides.checkpoint !== undefined && typeof inputs.ckpt_name === 'string') {
			set(nodeId, node, 'ckpt_name', 'checkpoint', overrides.checkpoint);
		}
	}
	const unmatched = (Object.keys(overrides) as (keyof WorkflowOverrides)[]).filter(
		(key) => overrides[key] !== undefined && !matched.has(key),
	);
	return { workflow: result, changes, unmatched };
}

function isLatentSizeNode(node: ApiNode): boolean {
	const { width, height, batch_size: batchSize } = node.inputs;
	if (typeof width !== 'number' || typeof height !== 'number') return false;
	return /^Empty.*Latent/i.test(node.class_type) || typeof batchSize === 'number';
}

/**
 * Overrides are checked here too (not only by the caller's input schema) because a wrong one would
 * be sent to ComfyUI; the field is the override's name in the caller's input (`overrides.steps`).
 */
function validateOverrides(overrides: WorkflowOverrides): void {
	const check = (field: keyof WorkflowOverrides, ok: boolean, expected: string) => {
		if (!ok) {
			throw new ValidationError('invalid_input', `Invalid ${field} override: expected ${expected}, got ${describeValue(overrides[field])}`, {
				field: `overrides.${field}`,
			});
		}
	};
	const { seed, steps, cfg, width, height, checkpoint } = overrides;
	if (seed !== undefined) check('seed', Number.isSafeInteger(seed) && seed >= 0, `a whole number 0..${Number.MAX_SAFE_INTEGER}`);
	if (steps !== undefined) check('steps', Number.isInteger(steps) && steps >= 1 && steps <= 10000, 'a whole number 1..10000');
	if (cfg !== undefined) check('cfg', typeof cfg === 'number' && Number.isFinite(cfg) && cfg >= 0 && cfg <= 100, 'a number 0..100');
	if (width !== undefined) check('width', Number.isInteger(width) && width >= 16 && width <= MAX_RESOLUTION, `a whole number 16..${MAX_RESOLUTION}`);
	if (height !== undefined) check('height', Number.isInteger(height) && height >= 16 && height <= MAX_RESOLUTION, `a whole number 16..${MAX_RESOLUTION}`);
	if (checkpoint !== undefined) {
		check('checkpoint', typeof checkpoint === 'string' && checkpoint.trim() !== '' && textProblem(checkpoint) === undefined, 'a checkpoint file name');
	}
}
