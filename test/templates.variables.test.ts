import {
	MAX_SEED,
	parseVariableDefinitions,
	resolveVariables,
	TemplateError,
	type VariableDefinition,
} from '../lib/templates';

/** Runs fn, expects a TemplateError, returns it for further assertions. */
function templateError(fn: () => unknown): TemplateError {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(TemplateError);
		return error as TemplateError;
	}
	throw new Error('expected a TemplateError, nothing was thrown');
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
		[[{ name: '1abc', type: 'string' }], '1abc', /name must start with a letter/],
		[[{ name: 'a-b', type: 'string' }], 'a-b', /name must start/],
		[[{ name: 'x'.repeat(65), type: 'string' }], 'x'.repeat(65), /at most 64/],
		[[{ name: 'ok', type: 'string' }, { name: 'ok', type: 'number' }], 'ok', /declared twice/],
		[[{ name: 'positive_prompt', type: 'string' }], 'positive_prompt', /reserved/],
		[[{ name: 'negative_prompt', type: 'string' }], 'negative_prompt', /reserved/],
		[[{ name: 'mood', type: 'text' }], 'mood', /type must be one of string, number, integer, boolean, enum, seed/],
		[[{ name: 'style', type: 'enum' }], 'style', /options/],
		[[{ name: 'style', type: 'enum', options: [] }], 'style', /at least one/],
		[[{ name: 'style', type: 'enum', options: ['a', 'a'] }], 'style', /duplicate/],
		[[{ name: 'style', type: 'enum', options: ['a', 'b'], default: 'c' }], 'style', /default .*"c" is not one of "a", "b"/],
		[[{ name: 'cfg', type: 'number', min: 10, max: 1 }], 'cfg', /max \(1\) is below min \(10\)/],
		[[{ name: 'cfg', type: 'number', max: 5, default: 6 }], 'cfg', /default 6 is above the maximum 5/],
		[[{ name: 'steps', type: 'integer', default: 2.5 }], 'steps', /default/],
		[[{ name: 'title', type: 'string', maxLength: 3, default: 'long' }], 'title', /default is longer than 3/],
		[[{ name: 'title', type: 'string', maxlength: 3 }], 'title', /unknown property "maxlength"/],
		[[{ name: 'cfg', type: 'number', required: false }], 'cfg', /optional number variable needs a default/],
		[[{ name: 'seed', type: 'seed', default: -2 }], 'seed', /default/],
		[[{ name: 'seed', type: 'seed', default: 2 ** 53 }], 'seed', /default/],
	])('invalid definition %j names %s', (input, field, message) => {
		const error = templateError(() => parseVariableDefinitions(input));
		expect(error.code).toBe('invalid_definition');
		expect(error.field).toBe(field);
		expect(error.message).toContain(`"${field}"`);
		expect(error.message).toMatch(message);
	});

	test('a definition without a usable name is named by its position', () => {
		const error = templateError(() => parseVariableDefinitions([{ name: 'a', type: 'string' }, { type: 'string' }]));
		expect(error.field).toBe('#2');
		expect(error.message).toMatch(/^Variable definition #2: name/);
	});

	test('non-list input is refused', () => {
		expect(templateError(() => parseVariableDefinitions({ name: 'a' })).code).toBe('invalid_definition');
		expect(templateError(() => parseVariableDefinitions('[{')).message).toMatch(/not valid JSON/);
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
			subject: 42,
			cfg: ' 6.5 ',
			steps: '30',
			hires: 'TRUE',
			style: 'anime',
			seed: '123456789012345',
		});
		expect(values).toEqual({ subject: '42', cfg: 6.5, steps: 30, hires: true, style: 'anime', seed: 123456789012345 });
		expect(resolveVariables(definitions, { subject: true, hires: 'false' }, { random: fixedRandom })).toMatchObject({
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
		const error = templateError(() => resolveVariables(definitions, { cfg: 5 }));
		expect(error.code).toBe('missing_variable');
		expect(error.field).toBe('subject');
		expect(error.message).toMatch(/Missing value for variable "subject" \(a string of at most 10 characters\)/);
		const requiredSeed = parseVariableDefinitions([{ name: 'seed', type: 'seed', required: true }]);
		expect(templateError(() => resolveVariables(requiredSeed, {})).field).toBe('seed');
	});

	test('an undeclared value names it and suggests the declared one', () => {
		let error = templateError(() => resolveVariables(definitions, { subject: 'a', Steps: 20 }));
		expect(error.code).toBe('unknown_variable');
		expect(error.field).toBe('Steps');
		expect(error.message).toMatch(/Unknown variable "Steps".*Did you mean "steps"\?/);
		error = templateError(() => resolveVariables(definitions, { subject: 'a', stlye: 'photo' }));
		expect(error.message).toMatch(/Did you mean "style"/);
		error = templateError(() => resolveVariables([], { anything: 1 }));
		expect(error.message).toMatch(/declares no variables/);
		error = templateError(() => resolveVariables(definitions, 'subject=cat' as unknown as Record<string, unknown>));
		expect([error.code, error.field]).toEqual(['invalid_value', 'values']);
		error = templateError(() => resolveVariables([], { anything: 1 }));
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
		const error = templateError(() => resolveVariables(definitions, { subject: 'a', [name]: value }));
		expect(error.code).toBe('invalid_value');
		expect(error.field).toBe(name);
		expect(error.message).toMatch(message);
	});

	test('maxLength counts characters as a user sees them (emoji are one), not UTF-16 units', () => {
		expect(resolveVariables(definitions, { subject: '🐱🐱🐱🐱🐱🐱🐱🐱🐱🐱' }, { random: fixedRandom }).subject).toBe('🐱🐱🐱🐱🐱🐱🐱🐱🐱🐱');
		expect(templateError(() => resolveVariables(definitions, { subject: '🐱'.repeat(11) })).field).toBe('subject');
	});

	test('integers beyond 2^53 are refused rather than silently rounded', () => {
		const defs: VariableDefinition[] = parseVariableDefinitions([{ name: 'n', type: 'integer' }]);
		expect(templateError(() => resolveVariables(defs, { n: '9007199254740993' })).message).toMatch(/too large to be exact/);
	});
});
