/** The Generate / Render input schemas (lib/generation/input.ts) and the seed rules, without servers. */
import { ValidationError } from '../lib/errors';
import { generateInput, overridesOf, parallelItemsInput, renderInput, seedOf } from '../lib/generation';
import type { Execution } from '../lib/db/executions';

function refusal(run: () => unknown): ValidationError {
	try {
		run();
	} catch (error) {
		expect(error).toBeInstanceOf(ValidationError);
		return error as ValidationError;
	}
	throw new Error('the input was accepted');
}

const raw = { source: 'workflow', workflow: '{"1":{"class_type":"SaveImage","inputs":{}}}' };

describe('generateInput', () => {
	it('fills the defaults and takes numbers and ids as n8n hands them over', () => {
		const request = generateInput.parse({
			...raw,
			timeout: '90',
			parallelItems: 4,
			executionId: ' 6F1C0B7E-4A8D-4E57-9A1E-0C9B0F4F3D21 ',
			userId: 42,
			galleryId: '',
			overrides: { seed: '7', steps: 12, checkpoint: '  ' },
		});
		expect(request).toMatchObject({
			source: 'workflow',
			waitForCompletion: true,
			timeout: 90,
			parallelItems: 4,
			outputs: 'saved',
			executionId: '6f1c0b7e-4a8d-4e57-9a1e-0c9b0f4f3d21',
			userId: '42',
			overrides: { seed: 7, steps: 12 },
		});
		expect(request).not.toHaveProperty('galleryId', expect.anything());
		expect(request.overrides.checkpoint).toBeUndefined();
		expect(generateInput.parse({ source: 'template', template: { name: 'fox' } })).toMatchObject({ values: {}, timeout: 600, parallelItems: 1 });
	});

	it('refuses each bad field with its code and the field name of the schema', () => {
		expect(refusal(() => generateInput.parse({ source: 'template' }))).toMatchObject({ code: 'field_required', field: 'template' });
		expect(refusal(() => generateInput.parse({ source: 'workflow', workflow: '  ' }))).toMatchObject({ code: 'field_required', field: 'workflow' });
		expect(refusal(() => generateInput.parse({ ...raw, timeout: -1 }))).toMatchObject({ code: 'invalid_input', field: 'timeout' });
		expect(refusal(() => generateInput.parse({ ...raw, timeout: 'soon' }))).toMatchObject({ code: 'invalid_input', field: 'timeout' });
		expect(refusal(() => generateInput.parse({ ...raw, parallelItems: 17 }))).toMatchObject({ code: 'invalid_input', field: 'parallelItems' });
		expect(refusal(() => generateInput.parse({ ...raw, parallelItems: 1.5 }))).toMatchObject({ code: 'invalid_input', field: 'parallelItems' });
		expect(refusal(() => generateInput.parse({ ...raw, userId: 'a\u0000b' }))).toMatchObject({ code: 'invalid_text', field: 'userId' });
		expect(refusal(() => generateInput.parse({ ...raw, galleryId: 'x'.repeat(201) }))).toMatchObject({ code: 'text_too_long', field: 'galleryId' });
		expect(refusal(() => generateInput.parse({ ...raw, variantId: 'v1' }))).toMatchObject({ code: 'invalid_input', field: 'variantId' });
		expect(refusal(() => generateInput.parse({ ...raw, overrides: { width: 'wide' } }))).toMatchObject({ code: 'invalid_input', field: 'overrides.width' });
		expect(refusal(() => generateInput.parse({ source: 'template', template: { name: 'fox' }, values: [1] }))).toMatchObject({
			code: 'invalid_input',
			field: 'values',
		});
		expect(refusal(() => parallelItemsInput.parse({ parallelItems: 0 }))).toMatchObject({ code: 'invalid_input', field: 'parallelItems' });
	});

	it('renderInput: a template is required, the version is a whole number', () => {
		expect(refusal(() => renderInput.parse({ values: {} }))).toMatchObject({ code: 'field_required', field: 'template' });
		expect(refusal(() => renderInput.parse({ template: { name: 'fox' }, version: 0 }))).toMatchObject({ code: 'invalid_input', field: 'version' });
		expect(renderInput.parse({ template: { id: 'abc' }, version: '3' })).toMatchObject({ template: { id: 'abc' }, version: 3, values: {} });
	});
});

describe('seed rules', () => {
	const workflow = { '3': { class_type: 'KSampler', inputs: { seed: 5, steps: 20 } } };

	it('a random seed wins over a fixed one; a fixed one over the workflow’s own', () => {
		const random = overridesOf(generateInput.parse({ ...raw, overrides: { seed: 1, randomSeed: true } }));
		expect(random.seed).not.toBe(1);
		expect(Number.isSafeInteger(random.seed)).toBe(true);
		const fixed = overridesOf(generateInput.parse({ ...raw, overrides: { seed: 9, randomSeed: false } }));
		expect(fixed).toEqual({ seed: 9 });
		expect(seedOf(undefined, fixed, workflow)).toBe(9);
		expect(seedOf(undefined, {}, workflow)).toBe(5);
	});

	it('a re-run keeps the seed the recorded job ran with', () => {
		expect(seedOf({ seed: '123' } as Execution, { seed: 9 }, workflow)).toBe(123);
		// A seed beyond 2^53 cannot be reported exactly as a number: the override decides then.
		expect(seedOf({ seed: '18446744073709551615' } as Execution, { seed: 9 }, workflow)).toBe(9);
	});
});
