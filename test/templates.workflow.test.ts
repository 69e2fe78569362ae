import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ValidationError } from '../lib/errors';
import {
	applyOverrides,
	canonicalJson,
	findSeedInputs,
	isUiFormatWorkflow,
	parseApiWorkflow,
	parseWorkflowInput,
	UI_FORMAT_MESSAGE,
	workflowChecksum,
	type ApiWorkflow,
	type JsonValue,
} from '../lib/templates';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const apiText = fixture('txt2img.api.json');
const uiText = fixture('txt2img.ui.json');

function validationError(fn: () => unknown): ValidationError {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(ValidationError);
		return error as ValidationError;
	}
	throw new Error('expected a ValidationError, nothing was thrown');
}

/** Same JSON value with every object's keys in reverse order. */
function reverseKeys(value: JsonValue): JsonValue {
	if (Array.isArray(value)) return value.map(reverseKeys);
	if (value !== null && typeof value === 'object') {
		return Object.fromEntries(Object.keys(value).reverse().map((k) => [k, reverseKeys(value[k])]));
	}
	return value;
}

/** Paths to every leaf (primitive) of a JSON value. */
function leafPaths(value: JsonValue, path: (string | number)[] = []): (string | number)[][] {
	if (Array.isArray(value)) return value.flatMap((item, i) => leafPaths(item, [...path, i]));
	if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...path, k]));
	return [path];
}

describe('canonicalJson and workflowChecksum', () => {
	const workflow = parseApiWorkflow(apiText);
	const checksum = workflowChecksum(workflow);

	test('sorted keys, no whitespace', () => {
		expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], é: true })).toBe('{"a":[{"c":"x","d":null}],"b":1,"é":true}');
		expect(checksum).toMatch(/^[0-9a-f]{64}$/);
	});

	test('key order and whitespace of the pasted JSON do not change the checksum', () => {
		const reordered = reverseKeys(JSON.parse(apiText) as JsonValue);
		expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(JSON.parse(apiText)));
		expect(workflowChecksum(parseApiWorkflow(reordered))).toBe(checksum);
		expect(workflowChecksum(parseApiWorkflow(JSON.stringify(reordered)))).toBe(checksum);
		expect(workflowChecksum(parseApiWorkflow(JSON.stringify(JSON.parse(apiText), null, 7)))).toBe(checksum);
		expect(workflowChecksum(parseApiWorkflow(`\uFEFF  ${JSON.stringify(JSON.parse(apiText))}\n`))).toBe(checksum);
	});

	test('the checksum is a fixed function of the content (stable across processes and releases)', () => {
		// If this changes, every stored template_versions.workflow_checksum would look "changed".
		// Pinned: sha256 of the hand-written text '{"1":{"class_type":"A","inputs":{"x":1}}}'.
		const workflow = { '1': { inputs: { x: 1 }, class_type: 'A' } };
		expect(canonicalJson(workflow)).toBe('{"1":{"class_type":"A","inputs":{"x":1}}}');
		expect(workflowChecksum(workflow)).toBe('6fd60d1c080ebcbdcbcc0d853bded5577a880060e5a94ef6c570fb3e0ff2f223');
	});

	test('changing any single value changes the checksum', () => {
		const paths = leafPaths(workflow as unknown as JsonValue);
		expect(paths.length).toBeGreaterThan(40);
		const seen = new Set([checksum]);
		for (const path of paths) {
			const copy = JSON.parse(JSON.stringify(workflow));
			let parent = copy;
			for (const key of path.slice(0, -1)) parent = parent[key];
			const leaf = path[path.length - 1];
			const old = parent[leaf];
			parent[leaf] = typeof old === 'number' ? old + 1 : typeof old === 'string' ? `${old} ` : !old;
			const changed = workflowChecksum(copy);
			expect(seen.has(changed)).toBe(false);
			seen.add(changed);
		}
	});

	test('type changes count: 1 vs "1", link vs literal, added input', () => {
		const base = { '1': { class_type: 'A', inputs: { x: 1 } } };
		const variants = [
			{ '1': { class_type: 'A', inputs: { x: '1' } } },
			{ '1': { class_type: 'A', inputs: { x: [1] } } },
			{ '1': { class_type: 'A', inputs: { x: 1, y: null } } },
			{ '1': { class_type: 'A', inputs: { x: 1 }, _meta: { title: 'A' } } },
			{ '2': { class_type: 'A', inputs: { x: 1 } } },
		];
		const sums = new Set([base, ...variants].map(workflowChecksum));
		expect(sums.size).toBe(variants.length + 1);
	});

	test('values JSON cannot represent are refused instead of silently becoming null', () => {
		expect(() => canonicalJson({ a: NaN })).toThrow(/NaN/);
		expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
		const cyclic: Record<string, unknown> = {};
		cyclic.self = cyclic;
		expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
		expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
	});
});

describe('parseApiWorkflow', () => {
	test('accepts the API export (text or object) and returns a copy', () => {
		const object = JSON.parse(apiText);
		const workflow = parseApiWorkflow(object);
		expect(workflow).toEqual(object);
		expect(workflow).not.toBe(object);
		expect(workflow['3'].inputs).not.toBe(object['3'].inputs);
		expect(parseApiWorkflow(apiText)).toEqual(object);
	});

	test('refuses the UI (editor) export with instructions to export the API format', () => {
		for (const input of [uiText, JSON.parse(uiText)]) {
			const error = validationError(() => parseApiWorkflow(input));
			expect(error).toMatchObject({ code: 'workflow_ui_format', field: 'workflow', hint: UI_FORMAT_MESSAGE });
			expect(error.message).toMatch(/UI \(editor\) format/);
			expect(error.hint).toMatch(/Export \(API\)/);
			expect(error.hint).toMatch(/Save \(API Format\)/);
		}
		expect(isUiFormatWorkflow(JSON.parse(uiText))).toBe(true);
		expect(isUiFormatWorkflow(JSON.parse(apiText))).toBe(false);
	});

	test('recognises the newer UI schema (links as objects) and UI format under a wrapper', () => {
		const ui = JSON.parse(uiText);
		const v1 = {
			id: '6a1d2c0e-0000-4000-8000-000000000000',
			revision: 0,
			last_node_id: 9,
			last_link_id: 9,
			nodes: ui.nodes,
			links: [{ id: 1, origin_id: 4, origin_slot: 0, target_id: 3, target_slot: 0, type: 'MODEL' }],
			groups: [],
			config: {},
			extra: {},
			version: 1,
		};
		expect(validationError(() => parseApiWorkflow(v1)).code).toBe('workflow_ui_format');
		expect(validationError(() => parseApiWorkflow({ prompt: ui })).code).toBe('workflow_ui_format');
		expect(validationError(() => parseApiWorkflow({ workflow: ui })).code).toBe('workflow_ui_format');
	});

	test('accepts the POST /prompt body wrapper { prompt, client_id, extra_data }', () => {
		const api = JSON.parse(apiText);
		expect(parseApiWorkflow({ prompt: api, client_id: 'abc', extra_data: { extra_pnginfo: { workflow: JSON.parse(uiText) } } })).toEqual(api);
		// A node that happens to be called "prompt" is a node, not a wrapper.
		const single = { prompt: { class_type: 'PrimitiveString', inputs: { value: 'x' } } };
		expect(parseApiWorkflow(single)).toEqual(single);
	});

	test('invalid JSON names the line and column', () => {
		const broken = apiText.replace('"steps": 20,', '"steps": 20,,');
		const error = validationError(() => parseApiWorkflow(broken));
		expect(error).toMatchObject({ code: 'workflow_invalid', field: 'workflow' });
		expect(error.message).toMatch(/not valid JSON/);
		const line = apiText.split('\n').findIndex((l) => l.includes('"steps": 20,')) + 1;
		expect(error.message).toMatch(new RegExp(`line ${line}\\b`));
		expect(validationError(() => parseApiWorkflow('   ')).message).toMatch(/empty/);
	});

	test.each([
		['an array', '[1, 2]', undefined, /must be a JSON object/],
		['null', 'null', undefined, /must be a JSON object/],
		['an empty object', '{}', undefined, /no nodes/],
		['a node that is not an object', '{"3": 5}', '3', /node "3" must be an object/],
		['a node without class_type', '{"3": {"inputs": {}}}', '3', /node "3" has no class_type/],
		['a node with empty class_type', '{"3": {"class_type": " ", "inputs": {}}}', '3', /no class_type/],
		['a node without inputs', '{"12": {"class_type": "KSampler"}}', '12', /node "12" \(KSampler\) has no inputs/],
		['a node with array inputs', '{"12": {"class_type": "KSampler", "inputs": []}}', '12', /no inputs object/],
		['a link to a missing node', '{"8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0]}}}', '8', /input "samples" is linked to node "3", which is not in the workflow/],
	])('refuses %s, naming the node', (_label, text, nodeId, message) => {
		const error = validationError(() => parseApiWorkflow(text));
		expect(error).toMatchObject({ code: 'workflow_invalid', field: 'workflow', httpStatus: 400 });
		expect(error.details?.nodeId).toBe(nodeId);
		expect(error.message).toMatch(message);
	});

	test('objects carrying non-JSON values are refused', () => {
		for (const x of [Infinity, new Date()]) {
			expect(validationError(() => parseApiWorkflow({ '1': { class_type: 'A', inputs: { x } } }))).toMatchObject({
				code: 'workflow_invalid',
				field: 'workflow',
				details: { nodeId: '1' },
			});
		}
	});

	test('a new workflow refuses text Postgres cannot store (NUL, lone surrogate, U+FFFD) anywhere; a stored one is still read', () => {
		for (const bad of ['a\u0000b', 'x\uDC00', 'caf\uFFFD']) {
			expect(validationError(() => parseWorkflowInput({ '1': { class_type: 'A', inputs: { text: bad } } }))).toMatchObject({
				code: 'invalid_text',
				field: 'workflow',
				details: { nodeId: '1', path: 'inputs.text' },
			});
			expect(validationError(() => parseWorkflowInput(JSON.stringify({ '7': { class_type: 'A', inputs: { list: [{ [bad]: 1 }] } } })))).toMatchObject({
				code: 'invalid_text',
				details: { nodeId: '7' },
			});
		}
		const stored = { '1': { class_type: 'A', inputs: { text: 'caf\uFFFD' } } };
		expect(parseApiWorkflow(stored)).toEqual(stored);
		expect(parseWorkflowInput(apiText)).toEqual(parseApiWorkflow(apiText));
	});
});

describe('findSeedInputs and applyOverrides', () => {
	const workflow = parseApiWorkflow(apiText);

	test('finds numeric seed and noise_seed inputs, skipping linked ones', () => {
		const advanced: ApiWorkflow = {
			...workflow,
			'10': { class_type: 'KSamplerAdvanced', inputs: { noise_seed: 9, steps: 30, cfg: 6 } },
			'11': { class_type: 'PrimitiveInt', inputs: { value: 3 } },
			'12': { class_type: 'KSampler', inputs: { seed: ['11', 0], steps: 10 } },
		};
		expect(findSeedInputs(advanced)).toEqual([
			{ nodeId: '3', classType: 'KSampler', input: 'seed', value: 5 },
			{ nodeId: '10', classType: 'KSamplerAdvanced', input: 'noise_seed', value: 9 },
		]);
	});

	test('sets seed, steps, cfg, size and checkpoint on the nodes that carry them, and lists the changes', () => {
		const before = JSON.stringify(workflow);
		const { workflow: result, changes, unmatched } = applyOverrides(workflow, {
			seed: 123, steps: 30, cfg: 6.5, width: 1024, height: 768, checkpoint: 'sd_xl_base_1.0.safetensors',
		});
		expect(JSON.stringify(workflow)).toBe(before);
		expect(result['3'].inputs).toMatchObject({ seed: 123, steps: 30, cfg: 6.5, model: ['4', 0] });
		expect(result['5'].inputs).toEqual({ width: 1024, height: 768, batch_size: 1 });
		expect(result['4'].inputs.ckpt_name).toBe('sd_xl_base_1.0.safetensors');
		expect(unmatched).toEqual([]);
		expect(changes).toEqual([
			{ nodeId: '3', classType: 'KSampler', input: 'seed', from: 5, to: 123 },
			{ nodeId: '3', classType: 'KSampler', input: 'steps', from: 20, to: 30 },
			{ nodeId: '3', classType: 'KSampler', input: 'cfg', from: 8, to: 6.5 },
			{ nodeId: '4', classType: 'CheckpointLoaderSimple', input: 'ckpt_name', from: 'v1-5-pruned-emaonly.safetensors', to: 'sd_xl_base_1.0.safetensors' },
			{ nodeId: '5', classType: 'EmptyLatentImage', input: 'width', from: 512, to: 1024 },
			{ nodeId: '5', classType: 'EmptyLatentImage', input: 'height', from: 512, to: 768 },
		]);
	});

	test('image sizes of non-latent nodes, linked inputs and unchanged values are left alone', () => {
		const graph: ApiWorkflow = {
			'1': { class_type: 'EmptySD3LatentImage', inputs: { width: 1024, height: 1024, batch_size: 1 } },
			'2': { class_type: 'ImageScale', inputs: { upscale_method: 'nearest-exact', width: 512, height: 512, crop: 'disabled', image: ['3', 0] } },
			'3': { class_type: 'LoadImage', inputs: { image: 'a.png' } },
			'4': { class_type: 'CLIPTextEncodeSDXL', inputs: { width: 1024, height: 1024, crop_w: 0, crop_h: 0, target_width: 1024, target_height: 1024, text_g: '', text_l: '' } },
			'5': { class_type: 'PrimitiveInt', inputs: { value: 3 } },
			'6': { class_type: 'KSampler', inputs: { seed: ['5', 0], steps: 20 } },
		};
		const { workflow: result, changes, unmatched } = applyOverrides(graph, { width: 1024, height: 640, seed: 1, steps: 20 });
		expect(changes).toEqual([{ nodeId: '1', classType: 'EmptySD3LatentImage', input: 'height', from: 1024, to: 640 }]);
		expect(result['2'].inputs.width).toBe(512);
		expect(result['4'].inputs.height).toBe(1024);
		expect(result['6'].inputs.seed).toEqual(['5', 0]);
		expect(unmatched).toEqual(['seed']);
	});

	test('reports overrides that matched no node', () => {
		const { changes, unmatched } = applyOverrides({ '1': { class_type: 'SaveText', inputs: { text: 'x' } } }, { seed: 1, checkpoint: 'x' });
		expect(changes).toEqual([]);
		expect(unmatched).toEqual(['seed', 'checkpoint']);
	});

	test.each([
		['seed', { seed: -1 }],
		['seed', { seed: 1.5 }],
		['steps', { steps: 0 }],
		['cfg', { cfg: Number.NaN }],
		['width', { width: 8 }],
		['height', { height: 513.5 }],
		['checkpoint', { checkpoint: ' ' }],
	])('an invalid %s override is refused naming it', (name, overrides) => {
		const error = validationError(() => applyOverrides(workflow, overrides));
		expect(error).toMatchObject({ code: 'invalid_input', field: `overrides.${name}` });
	});
});
