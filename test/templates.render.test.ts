import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { PromptLabError } from '../lib/errors';
import {
	listPlaceholders,
	parseApiWorkflow,
	renderTemplate,
	renderText,
	renderWorkflow,
	workflowChecksum,
	type ApiWorkflow,
} from '../lib/templates';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

function promptLabError(fn: () => unknown): PromptLabError {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(PromptLabError);
		return error as PromptLabError;
	}
	throw new Error('expected a PromptLabError, nothing was thrown');
}

/** The default txt2img graph with its prompts, seed, steps, size and checkpoint turned into placeholders. */
function templatedWorkflow(): ApiWorkflow {
	const workflow = parseApiWorkflow(fixture('txt2img.api.json'));
	workflow['6'].inputs.text = '{{positive_prompt}}';
	workflow['7'].inputs.text = '{{ negative_prompt }}';
	workflow['3'].inputs.seed = '{{seed}}';
	workflow['3'].inputs.steps = ' {{steps}} ';
	workflow['5'].inputs.width = '{{size}}';
	workflow['5'].inputs.height = '{{size}}';
	workflow['4'].inputs.ckpt_name = '{{checkpoint}}';
	workflow['9'].inputs.filename_prefix = 'promptlab/{{subject}}_{{steps}}';
	return workflow;
}

const variables = [
	{ name: 'subject', type: 'string' },
	{ name: 'style', type: 'enum', options: ['photo', 'watercolor'], default: 'photo' },
	{ name: 'steps', type: 'integer', min: 1, max: 100, default: 20 },
	{ name: 'size', type: 'integer', default: 512 },
	{ name: 'checkpoint', type: 'string', default: 'v1-5-pruned-emaonly.safetensors' },
	{ name: 'seed', type: 'seed' },
];

describe('renderText', () => {
	const values = { subject: 'a cat', n: 3, on: true };

	test('substitutes placeholders, with or without whitespace inside the braces', () => {
		expect(renderText('{{subject}}, {{ subject }}, {{\tn\t}} x {{on}}', values)).toBe('a cat, a cat, 3 x true');
	});

	test('text with braces that are not placeholders stays exactly as written', () => {
		const text = '{{ 5 }} {{}} {{} {{a b}} {{a.b}} {{#if x}} {"a": {"b": 1}} }} {{';
		expect(renderText(text, values)).toBe(text);
		expect(renderText('{{{subject}}}', values)).toBe('{a cat}');
	});

	test('\\{{name}} is a literal placeholder; \\\\ before a placeholder is one backslash', () => {
		expect(renderText('\\{{subject}} is {{subject}}', values)).toBe('{{subject}} is a cat');
		expect(renderText('\\{{ undeclared }}', values)).toBe('{{ undeclared }}');
		expect(renderText('C:\\\\{{subject}}', values)).toBe('C:\\a cat');
		expect(renderText('\\\\\\{{subject}}', values)).toBe('\\{{subject}}');
		expect(renderText('models\\sd15 (word:1.2) \\n', values)).toBe('models\\sd15 (word:1.2) \\n');
	});

	test('substitution is single pass: a value containing a placeholder is not expanded again', () => {
		expect(renderText('{{a}} / {{b}}', { a: '{{b}}', b: '{{a}}' })).toBe('{{b}} / {{a}}');
		expect(renderText('{{a}}', { a: '\\{{a}}' })).toBe('\\{{a}}');
	});

	test('a placeholder naming no declared variable is an error naming it', () => {
		const error = promptLabError(() => renderText('a {{subjet}} b', values, 'the positive prompt', 'positivePrompt'));
		expect(error).toMatchObject({ code: 'placeholder_unknown', field: 'positivePrompt', details: { placeholder: 'subjet' } });
		expect(error.message).toMatch(/\{\{subjet\}\} in the positive prompt names no declared variable/);
		expect(error.hint).toMatch(/Declare "subjet"/);
	});

	test('the built-in prompt placeholders are only available in the workflow', () => {
		const error = promptLabError(() =>
			renderTemplate({ positivePrompt: 'x {{negative_prompt}}', variables: [], values: {} }),
		);
		expect(error).toMatchObject({ code: 'placeholder_unknown', field: 'positivePrompt', details: { placeholder: 'negative_prompt' } });
		expect(error.message).toMatch(/only be used in the workflow/);
	});

	test('listPlaceholders lists names once, in order, without escaped ones', () => {
		expect(listPlaceholders('{{b}} {{ a }} {{b}} \\{{c}} {{ 5 }}')).toEqual(['b', 'a']);
		expect(listPlaceholders(templatedWorkflow())).toEqual(['seed', 'steps', 'checkpoint', 'size', 'positive_prompt', 'negative_prompt', 'subject']);
	});
});

describe('renderWorkflow', () => {
	test('an input that is exactly one placeholder takes the typed value; others become strings', () => {
		const rendered = renderWorkflow(templatedWorkflow(), {
			seed: 42, steps: 30, size: 768, checkpoint: 'sdxl.safetensors', subject: 'cat',
			positive_prompt: 'P', negative_prompt: 'N',
		});
		expect(rendered['3'].inputs).toMatchObject({ seed: 42, steps: 30 });
		expect(rendered['5'].inputs).toEqual({ width: 768, height: 768, batch_size: 1 });
		expect(rendered['4'].inputs.ckpt_name).toBe('sdxl.safetensors');
		expect(rendered['9'].inputs.filename_prefix).toBe('promptlab/cat_30');
		expect(rendered['6'].inputs.text).toBe('P');
		expect(rendered['7'].inputs.text).toBe('N');
		const flags = renderWorkflow({ 1: { class_type: 'X', inputs: { on: '{{on}}', label: 'is {{on}}' } } }, { on: false });
		expect(flags['1'].inputs).toEqual({ on: false, label: 'is false' });
	});

	test('links, class_type and _meta are untouched; nested arrays and objects are rendered; input not mutated', () => {
		const workflow: ApiWorkflow = {
			'1': { class_type: 'Loader', inputs: { name: 'x' } },
			'2': {
				class_type: 'Custom {{a}}',
				inputs: {
					link: ['1', 0],
					list: { __value__: ['{{a}}', '{{a}} b', 3] },
					nested: { deep: [{ text: '{{a}}!' }] },
				},
				_meta: { title: 'Title {{a}}' },
			},
		};
		const before = JSON.stringify(workflow);
		const rendered = renderWorkflow(workflow, { a: 7 });
		expect(rendered['2']).toEqual({
			class_type: 'Custom {{a}}',
			inputs: { link: ['1', 0], list: { __value__: [7, '7 b', 3] }, nested: { deep: [{ text: '7!' }] } },
			_meta: { title: 'Title {{a}}' },
		});
		expect(JSON.stringify(workflow)).toBe(before);
		expect(rendered['2'].inputs.link).not.toBe(workflow['2'].inputs.link);
	});

	test('an undeclared placeholder in the workflow names the variable and the node input', () => {
		const error = promptLabError(() => renderWorkflow(templatedWorkflow(), { seed: 1 }));
		expect(error).toMatchObject({ code: 'placeholder_unknown', field: 'workflow', details: { placeholder: 'steps' } });
		expect(error.message).toMatch(/\{\{steps\}\} in workflow node "3" \(KSampler\) input "steps"/);
	});
});

describe('renderTemplate', () => {
	const template = {
		positivePrompt: '{{style}} of {{subject}}, highly detailed',
		negativePrompt: 'blurry, {{style}} artifacts',
		workflow: templatedWorkflow(),
		variables,
	};

	test('renders prompts and workflow, with the prompts injected through {{positive_prompt}}', () => {
		const result = renderTemplate({ ...template, values: { subject: 'a lighthouse', steps: '25' }, random: () => 0.5 });
		expect(result.positivePrompt).toBe('photo of a lighthouse, highly detailed');
		expect(result.negativePrompt).toBe('blurry, photo artifacts');
		expect(result.values).toEqual({
			subject: 'a lighthouse', style: 'photo', steps: 25, size: 512,
			checkpoint: 'v1-5-pruned-emaonly.safetensors', seed: 2 ** 52,
		});
		const workflow = result.workflow!;
		expect(workflow['6'].inputs).toEqual({ text: 'photo of a lighthouse, highly detailed', clip: ['4', 1] });
		expect(workflow['7'].inputs.text).toBe('blurry, photo artifacts');
		expect(workflow['3'].inputs).toMatchObject({ seed: 2 ** 52, steps: 25, model: ['4', 0], cfg: 8 });
		expect(workflow['5'].inputs).toEqual({ width: 512, height: 512, batch_size: 1 });
		expect(workflow['9'].inputs.filename_prefix).toBe('promptlab/a lighthouse_25');
	});

	test('workflowChecksum identifies the template workflow: same across renders, changes when the template does', () => {
		const a = renderTemplate({ ...template, values: { subject: 'a' } });
		const b = renderTemplate({ ...template, values: { subject: 'b', seed: 7 } });
		expect(a.workflowChecksum).toBe(workflowChecksum(template.workflow));
		expect(b.workflowChecksum).toBe(a.workflowChecksum);
		expect(b.renderedWorkflowChecksum).not.toBe(a.renderedWorkflowChecksum);
		expect(b.renderedWorkflowChecksum).toBe(workflowChecksum(b.workflow));

		const changed = templatedWorkflow();
		changed['3'].inputs.cfg = 7;
		const c = renderTemplate({ ...template, workflow: changed, values: { subject: 'a' } });
		expect(c.workflowChecksum).not.toBe(a.workflowChecksum);
		const error = promptLabError(() =>
			renderTemplate({ ...template, workflow: changed, values: { subject: 'a' }, expectedWorkflowChecksum: a.workflowChecksum }),
		);
		expect(error).toMatchObject({ code: 'workflow_checksum_mismatch', httpStatus: 409, details: { workflowChecksum: c.workflowChecksum } });
		expect(
			renderTemplate({ ...template, workflow: JSON.stringify(template.workflow), values: { subject: 'a' }, expectedWorkflowChecksum: a.workflowChecksum })
				.workflowChecksum,
		).toBe(a.workflowChecksum);
	});

	test('a text-only template (no workflow) renders prompts only', () => {
		const result = renderTemplate({ positivePrompt: 'Summarise {{topic}}', variables: [{ name: 'topic', type: 'string' }], values: { topic: 'n8n' } });
		expect(result).toEqual({
			positivePrompt: 'Summarise n8n', negativePrompt: '', workflow: null, workflowChecksum: null,
			renderedWorkflowChecksum: null, values: { topic: 'n8n' },
		});
	});

	test('errors from variables surface unchanged, naming the value as values.<variable>', () => {
		expect(promptLabError(() => renderTemplate({ ...template, values: {} }))).toMatchObject({ code: 'variable_missing', field: 'values.subject' });
		expect(promptLabError(() => renderTemplate({ ...template, values: { subject: 'a', steps: 'many' } }))).toMatchObject({
			code: 'variable_invalid',
			field: 'values.steps',
		});
		expect(promptLabError(() => renderTemplate({ ...template, values: { subject: 'a', sujet: 'b' } }))).toMatchObject({
			code: 'variable_unknown',
			field: 'values.sujet',
		});
		const undeclared = promptLabError(() => renderTemplate({ ...template, variables: [{ name: 'seed', type: 'seed' }], values: {} }));
		expect(undeclared).toMatchObject({ code: 'placeholder_unknown', field: 'positivePrompt', details: { placeholder: 'style' } });
	});

	test('a number for a string variable is refused (variable_invalid), not rendered as text', () => {
		const error = promptLabError(() => renderTemplate({ ...template, values: { subject: 7 } }));
		expect(error).toMatchObject({ code: 'variable_invalid', field: 'values.subject', httpStatus: 400 });
		expect(error.hint).toMatch(/JSON string/);
	});

	test('a NUL in a variable value is refused (invalid_text) naming the value', () => {
		expect(promptLabError(() => renderTemplate({ ...template, values: { subject: 'a\u0000b' } }))).toMatchObject({
			code: 'invalid_text',
			field: 'values.subject',
			httpStatus: 400,
		});
	});

	test('a UI-format workflow is refused before anything is sent', () => {
		expect(promptLabError(() => renderTemplate({ ...template, workflow: fixture('txt2img.ui.json'), values: { subject: 'a' } }))).toMatchObject({
			code: 'workflow_ui_format',
			field: 'workflow',
		});
	});

	describe('hostile values survive exactly and never break the JSON', () => {
		const hostile: Record<string, string> = {
			quotes: 'he said "hi" and \'bye\' `tick`',
			backslashes: 'C:\\models\\new\\ \\" \\\\ \\u0000 end\\',
			braces: '{{subject}} {{ steps }} }} {{ {"a":1} } \\{{x}}',
			jsonish: '"}, "9": {"class_type": "Evil", "inputs": {}}, "x": {"',
			newlines: 'line1\nline2\r\nline3\ttab\u2028\u2029',
			control: '\u0001\u001f\u007f\u0085', // NUL is refused (invalid_text), other control characters are text
			unicode: '🐱‍👤 猫 émoji 🏳️‍🌈 \u{1F600} Ω',
			megabyte: 'x"{\\\n'.repeat(200_000) + '🐱'.repeat(10),
		};

		test.each(Object.keys(hostile))('%s', (key) => {
			const value = hostile[key];
			const result = renderTemplate({ ...template, values: { subject: value, seed: 1 } });
			expect(result.positivePrompt).toBe(`photo of ${value}, highly detailed`);
			expect(result.values.subject).toBe(value);
			expect(result.workflow!['6'].inputs.text).toBe(result.positivePrompt);
			expect(result.workflow!['9'].inputs.filename_prefix).toBe(`promptlab/${value}_20`);

			const json = JSON.stringify(result);
			const back = JSON.parse(json);
			expect(back).toEqual(result);
			expect(back.workflow['6'].inputs.text).toBe(`photo of ${value}, highly detailed`);
			expect(Object.keys(back.workflow).sort()).toEqual(['3', '4', '5', '6', '7', '8', '9']);
			expect(back.workflow['3'].inputs.seed).toBe(1);
		});

		test('a hostile value as the exact-placeholder input stays a string, unexpanded', () => {
			const result = renderTemplate({
				...template,
				workflow: { ...template.workflow, '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: '{{checkpoint}}' } } },
				values: { subject: 'a', checkpoint: '{{subject}}"}' },
			});
			expect(result.workflow!['4'].inputs.ckpt_name).toBe('{{subject}}"}');
		});
	});
});
