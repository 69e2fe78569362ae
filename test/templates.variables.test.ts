import { ValidationError } from '../lib/errors';
import {
	MAX_SEED,
	parseVariableDefinitions,
	parseVariableDefinitionsInput,
	resolveVariables,
	type VariableDefinition,
} from '../lib/templates';

/** Runs fn, expects a ValidationError (400), returns it for further assertions. */
function validationError(fn: () => unknown): ValidationError {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(ValidationError);
		return error as ValidationError;
	}
	throw new Error('expected a ValidationError, nothing was thrown');
}

const definitions = parseVariableDefinitions([
	{ name: 'subject', type: 'string', maxLength: 10 },
	{ name: 'cfg', type: 'number', min: 1, max: 30, default: 7.5 },
	{ name: 'steps', type: 'integer', min: 1, max: 150, default: 20 },
	{ name: 'hires', type: 'boolean', default: false },
	{ name: 'style', type: 'enum', options: ['photo', 'anime', 'oil painting'], default: 'photo' },
	{ name: 'seed', type: 'seed' },
]);

describe('parseVariableDefinitions', () => {
	test('required defaults to true without a default, false with one; seeds are optional (random)', () => {
		const byName = Object.fromEntries(definitions.map((d) => [d.name, d.required]));
		expect(byName).toEqual({ subject: true, cfg: false, steps: false, hires: false, style: false, seed: false });
		const explicit = parseVariableDefinitions([{ name: 'seed', type: 'seed', required: true }]);
		expect(explicit[0].required).toBe(true);
	});

	test('parsing is idempotent (definitions read back from the database parse the same)', () => {
		expect(parseVariableDefinitions(JSON.parse(JSON.stringify(definitions)))).toEqual(definitions);
		expect(parseVariableDefinitions(JSON.stringify(definitions))).toEqual(definitions);
		expect(parseVariableDefinitions(undefined)).toEqual([]);
		expect(parseVariableDefinitions('')).toEqual([]);
	});

	test.each([
		[[{ name: '1abc', type: 'string' }], 'variables.0.name', /name must start with a letter/],
		[[{ name: 'a-b', type: 'string' }], 'variables.0.name', /name must start/],
		[[{ name: 'x'.repeat(65), type: 'string' }], 'variables.0.name', /at most 64/],
		[[{ name: 'ok', type: 'string' }, { name: 'ok', type: 'number' }], 'variables.1.name', /declared twice/],
		[[{ name: 'positive_prompt', type: 'string' }], 'variables.0.name', /reserved/],
		[[{ name: 'negative_prompt', type: 'string' }], 'variables.0.name', /reserved/],
		[[{ name: 'mood', type: 'text' }], 'variables.0.type', /type must be one of string, number, integer, boolean, enum, seed/],
		[[{ name: 'style', type: 'enum' }], 'variables.0.options', /options/],
		[[{ name: 'style', type: 'enum', options: [] }], 'variables.0.options', /at least one/],
		[[{ name: 'style', type: 'enum', options: ['a', 'a'] }], 'variables.0.options', /duplicate/],
		[[{ name: 'style', type: 'enum', options: ['a', 'b'], default: 'c' }], 'variables.0.default', /default .*"c" is not one of "a", "b"/],
		[[{ name: 'cfg', type: 'number', min: 10, max: 1 }], 'variables.0.max', /max \(1\) is below min \(10\)/],
		[[{ name: 'cfg', type: 'number', max: 5, default: 6 }], 'variables.0.default', /default 6 is above the maximum 5/],
		[[{ name: 'steps', type: 'integer', default: 2.5 }], 'variables.0.default', /default/],
		[[{ name: 'title', type: 'string', maxLength: 3, default: 'long' }], 'variables.0.default', /default is longer than 3/],
		[[{ name: 'title', type: 'string', maxlength: 3 }], 'variables.0.maxlength', /unknown property "maxlength"/],
		[[{ name: 'cfg', type: 'number', required: false }], 'variables.0.default', /optional number variable needs a default/],
		[[{ name: 'seed', type: 'seed', default: -2 }], 'variables.0.default', /default/],
		[[{ name: 'seed', type: 'seed', default: 2 ** 53 }], 'variables.0.default', /default/],
	])('invalid definition %j is refused naming %s', (input, field, message) => {
		const error = validationError(() => parseVariableDefinitions(input));
		const name = (input[input.length - 1] as { name: string }).name;
		expect(error).toMatchObject({ code: 'variable_definition_invalid', field, httpStatus: 400 });
		expect(error.message).toContain(`"${name}"`);
		expect(error.message).toMatch(message);
	});

	test('a definition without a usable name is named by its position', () => {
		const error = validationError(() => parseVariableDefinitions([{ name: 'a', type: 'string' }, { type: 'string' }]));
		expect(error).toMatchObject({ code: 'variable_definition_invalid', field: 'variables.1.name' });
		expect(error.message).toMatch(/^Variable definition #2: name/);
	});

	test('non-list input is refused', () => {
		expect(validationError(() => parseVariableDefinitions({ name: 'a' }))).toMatchObject({
			code: 'variable_definition_invalid',
			field: 'variables',
		});
		expect(validationError(() => parseVariableDefinitions('[{')).message).toMatch(/not valid JSON/);
	});

	test('new definitions refuse text Postgres cannot store, naming the property; stored ones are still read', () => {
		const error = validationError(() =>
			parseVariableDefinitionsInput([{ name: 'style', type: 'enum', options: ['ok', 'bad\u0000'], default: 'ok' }]),
		);
		expect(error).toMatchObject({ code: 'invalid_text', field: 'variables.0.options.1' });
		expect(validationError(() => parseVariableDefinitionsInput([{ name: 'a', type: 'string', description: 'x\uD800' }]))).toMatchObject({
			code: 'invalid_text',
			field: 'variables.0.description',
		});
		// A definition stored before the rule (U+FFFD is storable) still renders.
		const stored = [{ name: 'a', type: 'string', description: 'caf\uFFFD', required: true }];
		expect(parseVariableDefinitions(stored)).toEqual(stored);
		expect(validationError(() => parseVariableDefinitionsInput(stored)).code).toBe('invalid_text');
	});
});

describe('resolveVariables', () => {
	const fixedRandom = () => 0.5;

	test('applies defaults, keeps definition order, and draws a random seed when none is given', () => {
		const values = resolveVariables(definitions, { subject: 'a cat' }, { random: fixedRandom });
		expect(values).toEqual({ subject: 'a cat', cfg: 7.5, steps: 20, hires: false, style: 'photo', seed: 2 ** 52 });
		expect(Object.keys(values)).toEqual(['subject', 'cfg', 'steps', 'hires', 'style', 'seed']);
	});

	test('coerces the strings n8n expressions produce', () => {
		const values = resolveVariables(definitions, {
			subject: '42',
			cfg: ' 6.5 ',
			steps: '30',
			hires: 'TRUE',
			style: 'anime',
			seed: '123456789012345',
		});
		expect(values).toEqual({ subject: '42', cfg: 6.5, steps: 30, hires: true, style: 'anime', seed: 123456789012345 });
		expect(resolveVariables(definitions, { subject: 'true', hires: 'false' }, { random: fixedRandom })).toMatchObject({
			subject: 'true',
			hires: false,
		});
		expect(resolveVariables(definitions, { subject: 'x', steps: '3.0', cfg: '1e1' }, { random: fixedRandom })).toMatchObject({
			steps: 3,
			cfg: 10,
		});
	});

	test('null, undefined and blank strings for non-string types count as absent (defaults apply)', () => {
		const values = resolveVariables(definitions, { subject: '', cfg: null, steps: '  ', hires: undefined, style: '' }, { random: fixedRandom });
		expect(values).toMatchObject({ subject: '', cfg: 7.5, steps: 20, hires: false, style: 'photo' });
	});

	test('seed: -1 means random, explicit seeds are kept, the random source is crypto by default', () => {
		expect(resolveVariables(definitions, { subject: 'a', seed: -1 }, { random: () => 0 }).seed).toBe(0);
		expect(resolveVariables(definitions, { subject: 'a', seed: '-1' }, { random: () => 0.999999999 }).seed).toBeLessThanOrEqual(MAX_SEED);
		expect(resolveVariables(definitions, { subject: 'a', seed: 0 }).seed).toBe(0);
		expect(resolveVariables(definitions, { subject: 'a', seed: MAX_SEED }).seed).toBe(MAX_SEED);
		const seeds = new Set(Array.from({ length: 20 }, () => resolveVariables(definitions, { subject: 'a' }).seed));
		expect(seeds.size).toBe(20);
		for (const seed of seeds) expect(Number.isSafeInteger(seed) && (seed as number) >= 0).toBe(true);
		const randomDefault = parseVariableDefinitions([{ name: 'seed', type: 'seed', default: -1 }]);
		expect(resolveVariables(randomDefault, {}, { random: () => 0.25 }).seed).toBe(2 ** 51);
		const fixedDefault = parseVariableDefinitions([{ name: 'seed', type: 'seed', default: 42 }]);
		expect(resolveVariables(fixedDefault, {}).seed).toBe(42);
	});

	test('optional string and enum without default render as empty', () => {
		const defs = parseVariableDefinitions([
			{ name: 'extra', type: 'string', required: false },
			{ name: 'mood', type: 'enum', options: ['calm'], required: false },
		]);
		expect(resolveVariables(defs, {})).toEqual({ extra: '', mood: '' });
	});

	test('a missing required value names the variable and its type', () => {
		const error = validationError(() => resolveVariables(definitions, { cfg: 5 }));
		expect(error).toMatchObject({ code: 'variable_missing', field: 'values.subject' });
		expect(error.message).toMatch(/Missing value for variable "subject" \(a string of at most 10 characters\)/);
		const requiredSeed = parseVariableDefinitions([{ name: 'seed', type: 'seed', required: true }]);
		expect(validationError(() => resolveVariables(requiredSeed, {})).field).toBe('values.seed');
	});

	test('an undeclared value names it and suggests the declared one', () => {
		let error = validationError(() => resolveVariables(definitions, { subject: 'a', Steps: 20 }));
		expect(error).toMatchObject({ code: 'variable_unknown', field: 'values.Steps', hint: 'Rename the value to "steps"' });
		expect(error.message).toMatch(/Unknown variable "Steps".*Did you mean "steps"\?/);
		error = validationError(() => resolveVariables(definitions, { subject: 'a', stlye: 'photo' }));
		expect(error.message).toMatch(/Did you mean "style"/);
		error = validationError(() => resolveVariables([], { anything: 1 }));
		expect(error.message).toMatch(/declares no variables/);
		error = validationError(() => resolveVariables(definitions, 'subject=cat' as unknown as Record<string, unknown>));
		expect([error.code, error.field]).toEqual(['invalid_input', 'values']);
		error = validationError(() => resolveVariables([], { anything: 1 }));
		expect(error.message).toMatch(/declares no variables/);
	});

	test.each([
		['cfg', 'abc', /"cfg": expected a number from 1 to 30, got the string "abc"/],
		['cfg', '0x10', /"cfg": expected a number/],
		['cfg', 'Infinity', /"cfg": expected a number/],
		['cfg', true, /"cfg": expected a number from 1 to 30, got the boolean true/],
		['cfg', 0.5, /"cfg": 0.5 is below the minimum 1/],
		['cfg', '31', /"cfg": 31 is above the maximum 30/],
		['steps', 3.5, /"steps": must be a whole number, got 3.5/],
		['steps', '3.5', /"steps": must be a whole number/],
		['steps', [20], /"steps": expected a whole number from 1 to 150, got an array/],
		['hires', 'yes', /"hires": expected true or false, got the string "yes"/],
		['hires', 1, /"hires": expected true or false, got the number 1/],
		['style', 'sketch', /"style": the string "sketch" is not one of "photo", "anime", "oil painting"/],
		['style', 'Photo', /"style": .* is not one of/],
		['subject', 'much too long', /"subject": is longer than 10 characters \(13 characters\)/],
		['subject', { text: 'x' }, /"subject": expected a string of at most 10 characters, got an object/],
		['seed', 3.5, /"seed": must be a whole number/],
		['seed', -2, /"seed": seed -2 is outside 0\.\.9007199254740991/],
		['seed', 2 ** 53, /"seed": seed 9007199254740992 is outside/],
		['seed', 'lucky', /"seed": expected a seed/],
	])('invalid %s = %j is refused naming the variable', (name, value, message) => {
		const error = validationError(() => resolveVariables(definitions, { subject: 'a', [name]: value }));
		expect(error).toMatchObject({ code: 'variable_invalid', field: `values.${name}`, httpStatus: 400 });
		expect(error.message).toMatch(message);
	});

	test.each([
		['subject', 42],
		['subject', true],
		['style', 1],
	])('a %s given as the non-text %j is refused: numbers and booleans do not fill text variables', (name, value) => {
		const values = name === 'subject' ? { [name]: value } : { subject: 'a', [name]: value };
		const error = validationError(() => resolveVariables(definitions, values));
		expect(error).toMatchObject({ code: 'variable_invalid', field: `values.${name}`, hint: expect.stringMatching(/JSON string/) });
		expect(error.message).toMatch(new RegExp(`"${name}": expected .*, got the (number|boolean) ${String(value)}`));
	});

	test.each([
		['a NUL character', 'cat\u0000dog', /NUL/],
		['a lone surrogate', 'cat\uD800', /surrogate/],
		['U+FFFD from bytes that were not UTF-8', 'caf\uFFFD', /U\+FFFD/],
	])('a value holding %s is refused as invalid_text naming the variable', (_label, value, message) => {
		const error = validationError(() => resolveVariables(definitions, { subject: value }));
		expect(error).toMatchObject({ code: 'invalid_text', field: 'values.subject' });
		expect(error.message).toMatch(message);
		// in any variable, whatever its type
		expect(validationError(() => resolveVariables(definitions, { subject: 'a', steps: '3\u0000' }))).toMatchObject({
			code: 'invalid_text',
			field: 'values.steps',
		});
	});

	test('maxLength counts characters as a user sees them (emoji are one), not UTF-16 units', () => {
		expect(resolveVariables(definitions, { subject: '🐱🐱🐱🐱🐱🐱🐱🐱🐱🐱' }, { random: fixedRandom }).subject).toBe('🐱🐱🐱🐱🐱🐱🐱🐱🐱🐱');
		expect(validationError(() => resolveVariables(definitions, { subject: '🐱'.repeat(11) })).field).toBe('values.subject');
	});

	test('integers beyond 2^53 are refused rather than silently rounded', () => {
		const defs: VariableDefinition[] = parseVariableDefinitions([{ name: 'n', type: 'integer' }]);
		expect(validationError(() => resolveVariables(defs, { n: '9007199254740993' })).message).toMatch(/too large to be exact/);
	});
});
