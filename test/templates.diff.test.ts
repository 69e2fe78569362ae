import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
	diffLines,
	diffVersions,
	diffWords,
	MAX_DIFF_EDITS,
	parseApiWorkflow,
	parseVariableDefinitions,
	type TextDiff,
	type VersionContent,
} from '../lib/templates';

const apiWorkflow = () => parseApiWorkflow(readFileSync(join(__dirname, 'fixtures', 'txt2img.api.json'), 'utf8'));

/** The old and new texts a diff describes. */
function sides(diff: TextDiff): { from: string; to: string } {
	return {
		from: diff.filter((p) => p.op !== 'add').map((p) => p.text).join(''),
		to: diff.filter((p) => p.op !== 'remove').map((p) => p.text).join(''),
	};
}

describe('text diffs', () => {
	test('word diff of a one-line prompt shows only the changed words', () => {
		const diff = diffWords('masterpiece, best quality, a man, oil painting', 'masterpiece, best quality, a woman, watercolor painting');
		expect(diff).toEqual([
			{ op: 'equal', text: 'masterpiece, best quality, a ' },
			{ op: 'remove', text: 'man,' },
			{ op: 'add', text: 'woman,' },
			{ op: 'equal', text: ' ' },
			{ op: 'remove', text: 'oil' },
			{ op: 'add', text: 'watercolor' },
			{ op: 'equal', text: ' painting' },
		]);
	});

	test('line diff keeps unchanged lines and marks added/removed ones', () => {
		const diff = diffLines('a\nb\nc\n', 'a\nc\nd\n');
		expect(diff).toEqual([
			{ op: 'equal', text: 'a\n' },
			{ op: 'remove', text: 'b\n' },
			{ op: 'equal', text: 'c\n' },
			{ op: 'add', text: 'd\n' },
		]);
	});

	test.each([
		['', ''],
		['', 'new text'],
		['old text', ''],
		['same', 'same'],
		['a b c d e f', 'f e d c b a'],
		['x\n\ny\r\nz', 'x\ny\r\n\nz w'],
		['🐱 猫 {{subject}}', '🐱 犬 {{ subject }}'],
	])('joining the parts gives back both texts exactly (%j → %j)', (a, b) => {
		for (const diff of [diffWords(a, b), diffLines(a, b)]) {
			expect(sides(diff)).toEqual({ from: a, to: b });
			for (let i = 1; i < diff.length; i++) expect(diff[i].op).not.toBe(diff[i - 1].op);
			expect(diff.every((p) => p.text !== '')).toBe(true);
		}
	});

	test('long texts with few changes get an exact diff', () => {
		const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`);
		const changed = [...lines];
		for (const i of [100, 7_000, 15_000]) changed[i] = `changed ${i}\n`;
		const diff = diffLines(lines.join(''), changed.join(''));
		expect(diff.map((p) => p.op)).toEqual(['equal', 'remove', 'add', 'equal', 'remove', 'add', 'equal', 'remove', 'add', 'equal']);
		expect(diff.filter((p) => p.op === 'add').map((p) => p.text)).toEqual(['changed 100\n', 'changed 7000\n', 'changed 15000\n']);
		expect(sides(diff)).toEqual({ from: lines.join(''), to: changed.join('') });
	});

	test('texts needing more than MAX_DIFF_EDITS edits fall back to one remove and one add around the common ends', () => {
		const size = MAX_DIFF_EDITS / 2 + 10; // every line differs: 2 × size edits
		const a = Array.from({ length: size }, (_, i) => `a${i}`).join('\n');
		const b = Array.from({ length: size }, (_, i) => `b${i}`).join('\n');
		const diff = diffLines(`head\n${a}\ntail`, `head\n${b}\ntail`);
		expect(diff.map((p) => p.op)).toEqual(['equal', 'remove', 'add', 'equal']);
		expect(sides(diff)).toEqual({ from: `head\n${a}\ntail`, to: `head\n${b}\ntail` });
	});
});

describe('diffVersions', () => {
	const variables = parseVariableDefinitions([
		{ name: 'subject', type: 'string' },
		{ name: 'steps', type: 'integer', default: 20 },
		{ name: 'seed', type: 'seed' },
	]);
	const v1: VersionContent = {
		version: 1,
		positivePrompt: 'a photo of {{subject}}',
		negativePrompt: 'blurry',
		workflow: apiWorkflow(),
		variables,
	};

	test('two identical versions are identical', () => {
		const copy = JSON.parse(JSON.stringify(v1));
		const diff = diffVersions(v1, { ...copy, version: 2, variables: [...variables].reverse() });
		expect(diff.identical).toBe(true);
		expect(diff.workflow).toEqual({ added: [], removed: [], changed: [] });
		expect(diff.positivePrompt).toEqual([{ op: 'equal', text: 'a photo of {{subject}}' }]);
		expect(diff.fromVersion).toBe(1);
		expect(diff.toVersion).toBe(2);
	});

	test('reports prompt, workflow node/input and variable changes', () => {
		const workflow = apiWorkflow();
		workflow['3'].inputs.steps = '{{steps}}';
		workflow['3'].inputs.cfg = 7;
		delete workflow['3'].inputs.denoise;
		workflow['3'].inputs.extra = { __value__: [1, 2] };
		workflow['3']._meta = { title: 'Main sampler' };
		delete workflow['9'];
		workflow['10'] = { class_type: 'PreviewImage', inputs: { images: ['8', 0] } };
		workflow['11'] = { class_type: 'SaveImage', inputs: { filename_prefix: 'x', images: ['8', 0] } };
		workflow['7'] = { class_type: 'CLIPTextEncodeSDXL', inputs: { text_g: 'bad', text_l: 'bad', clip: ['4', 1] }, _meta: { title: 'CLIP Text Encode (Prompt)' } };
		const v2: VersionContent = {
			version: 2,
			positivePrompt: 'a watercolor of {{subject}}',
			negativePrompt: 'blurry',
			workflow,
			variables: parseVariableDefinitions([
				{ name: 'subject', type: 'string', maxLength: 200 },
				{ name: 'steps', type: 'integer', default: 30, min: 1 },
				{ name: 'style', type: 'enum', options: ['a', 'b'], default: 'a' },
			]),
		};
		const diff = diffVersions(v1, v2);
		expect(diff.identical).toBe(false);
		expect(diff.positivePrompt).toEqual([
			{ op: 'equal', text: 'a ' },
			{ op: 'remove', text: 'photo' },
			{ op: 'add', text: 'watercolor' },
			{ op: 'equal', text: ' of {{subject}}' },
		]);
		expect(diff.negativePrompt).toEqual([{ op: 'equal', text: 'blurry' }]);
		expect(diff.workflow.added).toEqual(['10', '11']);
		expect(diff.workflow.removed).toEqual(['9']);
		expect(diff.workflow.changed).toEqual([
			{
				nodeId: '3',
				classType: 'KSampler',
				inputs: [
					{ name: 'cfg', kind: 'changed', from: 8, to: 7 },
					{ name: 'denoise', kind: 'removed', from: 1 },
					{ name: 'extra', kind: 'added', to: { __value__: [1, 2] } },
					{ name: 'steps', kind: 'changed', from: 20, to: '{{steps}}' },
				],
				meta: { from: { title: 'KSampler' }, to: { title: 'Main sampler' } },
			},
			{
				nodeId: '7',
				classType: 'CLIPTextEncodeSDXL',
				previousClassType: 'CLIPTextEncode',
				inputs: [
					{ name: 'text', kind: 'removed', from: 'bad hands' },
					{ name: 'text_g', kind: 'added', to: 'bad' },
					{ name: 'text_l', kind: 'added', to: 'bad' },
				],
			},
		]);
		expect(diff.variables.added.map((d) => d.name)).toEqual(['style']);
		expect(diff.variables.removed.map((d) => d.name)).toEqual(['seed']);
		expect(diff.variables.changed.map((c) => [c.name, c.fields])).toEqual([
			['subject', ['maxLength']],
			['steps', ['default', 'min']],
		]);
	});

	test('a text template gaining a workflow lists every node as added', () => {
		const diff = diffVersions({ ...v1, workflow: null }, v1);
		expect(diff.workflow.added).toEqual(['3', '4', '5', '6', '7', '8', '9']);
		expect(diff.identical).toBe(false);
	});

	test('a change of only a literal link-shaped input is still reported', () => {
		const workflow = apiWorkflow();
		workflow['3'].inputs.model = ['4', 1];
		const diff = diffVersions(v1, { ...v1, workflow });
		expect(diff.workflow.changed).toEqual([
			{ nodeId: '3', classType: 'KSampler', inputs: [{ name: 'model', kind: 'changed', from: ['4', 0], to: ['4', 1] }] },
		]);
	});
});
