import { randomBytes } from 'node:crypto';
import { z } from 'zod';

import { UpstreamError, ValidationError } from '../errors';
import { findTextProblem, textProblem } from '../validation';
import { describeValue } from './describe';

/**
 * Typed template variables: the definition list stored with each template version
 * (template_versions.variables) and the validation/coercion of the values given at render time.
 *
 * Rules a user relies on (also in the README of the node):
 * - A value that is `undefined` or `null` is absent. For every type except `string`, an empty or
 *   blank string is absent too (an n8n field left empty gives ""), so the default applies.
 * - Numbers may arrive as numeric strings ("42", "-1.5", "1e3"): n8n expressions and query strings
 *   often produce strings. Hex, "Infinity", "abc" and the like are refused.
 * - `string` and `enum` variables take text only: a number or boolean is refused (send "42" as a
 *   JSON string), because a caller who sends 42 for a text variable has usually mixed up
 *   variables, and turning it into "42" would render something nobody asked for. `maxLength`
 *   counts Unicode code points, not UTF-16 units.
 * - Text that Postgres cannot store or that was not UTF-8 (NUL, a lone surrogate, U+FFFD) is
 *   refused in every value (`invalid_text`).
 * - Errors name the value as `values.<name>` (the field of the render input), definitions as
 *   `variables.<index>.<property>`.
 * - `seed`: an integer 0..2^53-1. -1, or no value and no default, means "random": a fresh seed is
 *   drawn for this render. (ComfyUI accepts up to 2^64-1, but JavaScript numbers are exact only
 *   to 2^53-1, and an inexact seed would not reproduce the image.)
 * - An optional `number`/`integer`/`boolean` needs a default (a template cannot render a number
 *   from nothing); an optional `string`/`enum` without default renders as "".
 */

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Built-in placeholders filled by the renderer with the rendered prompts; not declarable. */
export const RESERVED_VARIABLE_NAMES: readonly string[] = ['positive_prompt', 'negative_prompt'];
export const VARIABLE_TYPES = ['string', 'number', 'integer', 'boolean', 'enum', 'seed'] as const;

export const MAX_SEED = Number.MAX_SAFE_INTEGER;
/** The seed value that asks for a random seed. */
export const RANDOM_SEED = -1;

export type VariableValue = string | number | boolean;
export type ResolvedValues = Record<string, VariableValue>;

const finiteNumber = z.number().finite();
const common = {
	name: z.string().regex(VARIABLE_NAME, {
		message: 'name must start with a letter or _ and contain only letters, digits and _ (at most 64)',
	}),
	description: z.string().optional(),
	required: z.boolean().optional(),
};

const stringDefinition = z
	.object({ ...common, type: z.literal('string'), default: z.string().optional(), maxLength: z.number().int().min(0).optional() })
	.strict();
const numberDefinition = z
	.object({ ...common, type: z.literal('number'), default: finiteNumber.optional(), min: finiteNumber.optional(), max: finiteNumber.optional() })
	.strict();
const integerDefinition = z
	.object({
		...common,
		type: z.literal('integer'),
		default: z.number().int().optional(),
		min: z.number().int().optional(),
		max: z.number().int().optional(),
	})
	.strict();
const booleanDefinition = z.object({ ...common, type: z.literal('boolean'), default: z.boolean().optional() }).strict();
const enumDefinition = z
	.object({
		...common,
		type: z.literal('enum'),
		options: z
			.array(z.string(), { required_error: 'required: an enum variable lists its allowed values in options' })
			.min(1, { message: 'options must list at least one value' }),
		default: z.string().optional(),
	})
	.strict();
const seedDefinition = z
	.object({ ...common, type: z.literal('seed'), default: z.number().int().min(RANDOM_SEED).max(MAX_SEED).optional() })
	.strict();

const variableDefinitionSchema = z
	.discriminatedUnion('type', [
		stringDefinition,
		numberDefinition,
		integerDefinition,
		booleanDefinition,
		enumDefinition,
		seedDefinition,
	], {
		errorMap: (issue, ctx) =>
			issue.code === 'invalid_union_discriminator'
				? { message: `type must be one of ${VARIABLE_TYPES.join(', ')}` }
				: { message: ctx.defaultError },
	})
	.superRefine((def, ctx) => {
		const fail = (path: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
		if (RESERVED_VARIABLE_NAMES.includes(def.name)) {
			fail('name', `"${def.name}" is reserved: the renderer fills {{${def.name}}} with the rendered prompt`);
		}
		if ((def.type === 'number' || def.type === 'integer') && def.min !== undefined && def.max !== undefined && def.min > def.max) {
			fail('max', `max (${def.max}) is below min (${def.min})`);
		}
		if (def.type === 'enum' && new Set(def.options).size !== def.options.length) {
			fail('options', 'options contain a duplicate');
		}
		if (def.default !== undefined) {
			const problem = checkTypedValue(def as VariableDefinition, def.default);
			if (problem) fail('default', `default ${problem}`);
		}
		const required = def.required ?? (def.default === undefined && def.type !== 'seed');
		if (!required && def.default === undefined && (def.type === 'number' || def.type === 'integer' || def.type === 'boolean')) {
			fail('default', `an optional ${def.type} variable needs a default`);
		}
	})
	.transform((def) => ({ ...def, required: def.required ?? (def.default === undefined && def.type !== 'seed') }));

export const variableDefinitionsSchema = z.array(variableDefinitionSchema).superRefine((defs, ctx) => {
	const seen = new Set<string>();
	defs.forEach((def, index) => {
		if (seen.has(def.name)) {
			ctx.addIssue({ code: z.ZodIssueCode.custom, path: [index, 'name'], message: `name "${def.name}" is declared twice` });
		}
		seen.add(def.name);
	});
});

interface DefinitionBase {
	name: string;
	description?: string;
	/** Always set after parsing: true unless a default is given (seeds: unless random is allowed). */
	required: boolean;
}
export type StringVariable = DefinitionBase & { type: 'string'; default?: string; maxLength?: number };
export type NumberVariable = DefinitionBase & { type: 'number'; default?: number; min?: number; max?: number };
export type IntegerVariable = DefinitionBase & { type: 'integer'; default?: number; min?: number; max?: number };
export type BooleanVariable = DefinitionBase & { type: 'boolean'; default?: boolean };
export type EnumVariable = DefinitionBase & { type: 'enum'; options: string[]; default?: string };
export type SeedVariable = DefinitionBase & { type: 'seed'; default?: number };
export type VariableDefinition =
	| StringVariable
	| NumberVariable
	| IntegerVariable
	| BooleanVariable
	| EnumVariable
	| SeedVariable;

// Compile-time check that the zod output and the hand-written union agree.
const definitionsAgree: z.output<typeof variableDefinitionSchema> extends VariableDefinition ? true : false = true;
void definitionsAgree;

/**
 * Validates a definition list (from the node's UI, pasted JSON or the database).
 * Accepts a JSON string too. Throws a ValidationError 'variable_definition_invalid' whose field is
 * `variables` or `variables.<index>.<property>`, and whose message names the variable.
 */
export function parseVariableDefinitions(input: unknown): VariableDefinition[] {
	let raw = input;
	if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return [];
	const invalid = (message: string, path: (string | number)[] = [], details?: Record<string, unknown>) =>
		new ValidationError('variable_definition_invalid', message, { field: ['variables', ...path].join('.'), details });
	if (typeof raw === 'string') {
		try {
			raw = JSON.parse(raw);
		} catch (error) {
			throw invalid(`Variable definitions are not valid JSON: ${(error as Error).message}`);
		}
	}
	if (!Array.isArray(raw)) throw invalid(`Variable definitions must be a list, got ${describeValue(raw)}`);
	const result = variableDefinitionsSchema.safeParse(raw);
	if (result.success) return result.data;

	const issue = result.error.issues[0];
	const index = typeof issue.path[0] === 'number' ? issue.path[0] : 0;
	const entry = raw[index] as { name?: unknown } | undefined;
	const named = entry && typeof entry.name === 'string' && entry.name !== '' ? entry.name : undefined;
	const where = named !== undefined ? `Variable "${named}" (definition #${index + 1})` : `Variable definition #${index + 1}`;
	const property = issue.path.slice(1).join('.');
	const type = entry && typeof (entry as { type?: unknown }).type === 'string' ? (entry as { type: string }).type : '';
	const message = issue.code === 'unrecognized_keys'
		? `unknown propert${issue.keys.length > 1 ? 'ies' : 'y'} ${issue.keys.map((k) => `"${k}"`).join(', ')} for a ${type} variable`
		: property && !issue.message.startsWith(property) ? `${property}: ${issue.message}` : issue.message;
	const path = issue.code === 'unrecognized_keys' && issue.keys.length > 0 ? [index, issue.keys[0]] : issue.path.length ? issue.path : [index];
	throw invalid(`${where}: ${message}`, path, named !== undefined ? { variable: named } : undefined);
}

/**
 * parseVariableDefinitions for definitions a caller sends (a new version): also refuses text
 * Postgres cannot store or that was not UTF-8 in names, descriptions, defaults and options
 * (invalid_text, field `variables.<index>.<property>`). Stored definitions are read with
 * parseVariableDefinitions alone, which stays tolerant of what was stored before this rule.
 */
export function parseVariableDefinitionsInput(input: unknown): VariableDefinition[] {
	const definitions = parseVariableDefinitions(input);
	const bad = findTextProblem(definitions);
	if (bad) {
		const index = Number(bad.path[0]);
		throw new ValidationError(
			'invalid_text',
			`Variable "${definitions[index].name}" (definition #${index + 1}): ${bad.path.slice(1).join('.')} ${bad.problem}`,
			{ field: ['variables', ...bad.path].join('.') },
		);
	}
	return definitions;
}

export interface ResolveOptions {
	/** Source of randomness for random seeds, returning [0, 1) like Math.random (tests pass a fixed one). */
	random?: () => number;
}

/** The field of a variable's value in a render input: `values.<name>`. */
export function valueField(name: string): string {
	return `values.${name}`;
}

/**
 * Validates and coerces the values given for a render against the definitions, applies defaults
 * and draws random seeds. The result has one entry per definition, in definition order.
 * Throws a ValidationError naming the value as `values.<name>`: 'variable_unknown' (a value nobody
 * declared), 'variable_missing', 'variable_invalid' (wrong type, out of range), 'invalid_text'
 * (NUL, lone surrogate, U+FFFD); 'invalid_input' with field `values` when values is not an object.
 */
export function resolveVariables(
	definitions: readonly VariableDefinition[],
	values: Record<string, unknown> | null | undefined,
	options: ResolveOptions = {},
): ResolvedValues {
	const given = values ?? {};
	if (typeof given !== 'object' || Array.isArray(given)) {
		throw new ValidationError('invalid_input', `Variable values must be an object of name → value, got ${describeValue(given)}`, {
			field: 'values',
			hint: 'Send the values as a JSON object, e.g. {"product": "red sneaker", "seed": 42}',
		});
	}
	const declared = new Set(definitions.map((d) => d.name));
	for (const name of Object.keys(given)) {
		if (!declared.has(name)) {
			const suggestion = suggestName(name, [...declared]);
			const known = declared.size ? `Declared variables: ${[...declared].join(', ')}.` : 'This template declares no variables.';
			throw new ValidationError(
				'variable_unknown',
				`Unknown variable "${name}": the template does not declare it.${suggestion ? ` Did you mean "${suggestion}"?` : ''} ${known}`,
				{
					field: valueField(name),
					hint: suggestion ? `Rename the value to "${suggestion}"` : 'Remove the value, or declare the variable in a new version',
					details: { variable: name, declared: [...declared] },
				},
			);
		}
	}

	const resolved: ResolvedValues = {};
	for (const def of definitions) {
		const raw = Object.prototype.hasOwnProperty.call(given, def.name) ? given[def.name] : undefined;
		if (!isAbsent(def, raw)) {
			resolved[def.name] = coerceValue(def, raw, options);
		} else if (def.default !== undefined) {
			resolved[def.name] = def.type === 'seed' && def.default === RANDOM_SEED ? randomSeed(options) : def.default;
		} else if (def.required) {
			throw new ValidationError(
				'variable_missing',
				`Missing value for variable "${def.name}" (${describeType(def)}).${def.description ? ` ${def.description}` : ''}`,
				{ field: valueField(def.name), details: { variable: def.name } },
			);
		} else {
			resolved[def.name] = def.type === 'seed' ? randomSeed(options) : '';
		}
	}
	return resolved;
}

function isAbsent(def: VariableDefinition, value: unknown): boolean {
	if (value === undefined || value === null) return true;
	if (def.type === 'string' || typeof value !== 'string' || value.trim() !== '') return false;
	return !(def.type === 'enum' && def.options.includes(value));
}

function coerceValue(def: VariableDefinition, raw: unknown, options: ResolveOptions): VariableValue {
	const field = valueField(def.name);
	const invalid = (problem: string, hint?: string) =>
		new ValidationError('variable_invalid', `Invalid value for variable "${def.name}": ${problem}`, {
			field,
			hint,
			details: { variable: def.name },
		});
	const wrongType = (hint?: string) => invalid(`expected ${describeType(def)}, got ${describeValue(raw)}`, hint);

	if (typeof raw === 'string') {
		const problem = textProblem(raw);
		if (problem) {
			throw new ValidationError('invalid_text', `Invalid value for variable "${def.name}": the text ${problem}`, {
				field,
				details: { variable: def.name },
			});
		}
	}

	let value: VariableValue;
	switch (def.type) {
		case 'string':
		case 'enum':
			if (typeof raw === 'string') value = raw;
			else if (typeof raw === 'number' || typeof raw === 'boolean') {
				throw wrongType(`Send it as a JSON string: "${def.name}": ${JSON.stringify(String(raw))}`);
			} else throw wrongType();
			break;
		case 'number':
		case 'integer':
		case 'seed': {
			const n = toNumber(raw);
			if (n === undefined) throw wrongType();
			value = n;
			if (def.type === 'seed' && n === RANDOM_SEED) return randomSeed(options);
			break;
		}
		case 'boolean':
			if (typeof raw === 'boolean') value = raw;
			else if (typeof raw === 'string' && /^\s*(true|false)\s*$/i.test(raw)) value = raw.trim().toLowerCase() === 'true';
			else throw wrongType();
			break;
	}
	const problem = checkTypedValue(def, value);
	if (problem) throw invalid(problem);
	return value;
}

/** Range/length/option checks on a value already of the right JS type; shared with default checking. */
function checkTypedValue(def: VariableDefinition, value: VariableValue): string | undefined {
	switch (def.type) {
		case 'string':
			if (typeof value !== 'string') return 'must be a string';
			if (def.maxLength !== undefined) {
				const length = codePointLength(value, def.maxLength);
				if (length > def.maxLength) return `is longer than ${def.maxLength} characters (${length === Infinity ? 'far' : length} characters)`;
			}
			return undefined;
		case 'number':
		case 'integer':
			if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a finite number';
			if (def.type === 'integer' && !Number.isInteger(value)) return `must be a whole number, got ${value}`;
			if (def.type === 'integer' && !Number.isSafeInteger(value)) return `${value} is too large to be exact (limit ±${MAX_SEED})`;
			if (def.min !== undefined && value < def.min) return `${value} is below the minimum ${def.min}`;
			if (def.max !== undefined && value > def.max) return `${value} is above the maximum ${def.max}`;
			return undefined;
		case 'boolean':
			return typeof value === 'boolean' ? undefined : 'must be true or false';
		case 'enum':
			if (typeof value === 'string' && def.options.includes(value)) return undefined;
			return `${describeValue(value)} is not one of ${listOptions(def.options)}`;
		case 'seed':
			if (typeof value !== 'number' || !Number.isInteger(value)) return `must be a whole number, got ${describeValue(value)}`;
			if (value < RANDOM_SEED || value > MAX_SEED) return `seed ${value} is outside 0..${MAX_SEED} (-1 = random)`;
			return undefined;
	}
}

/** Decimal numbers only: "0x1F", "Infinity", "1_000", "" are not numbers a user meant. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function toNumber(raw: unknown): number | undefined {
	if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
	if (typeof raw !== 'string') return undefined;
	const text = raw.trim();
	if (!DECIMAL.test(text)) return undefined;
	const n = Number(text);
	return Number.isFinite(n) ? n : undefined;
}

/** Code points up to `limit + 1` (stops early so a 1 MB string is not fully walked for a small limit). */
function codePointLength(text: string, limit: number): number {
	if (text.length <= limit) return text.length; // code points ≤ UTF-16 units
	let count = 0;
	for (let i = 0; i < text.length; i++) {
		const unit = text.charCodeAt(i);
		if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
			const next = text.charCodeAt(i + 1);
			if (next >= 0xdc00 && next <= 0xdfff) i++;
		}
		count++;
		if (count > limit + 1000) return Infinity;
	}
	return count;
}

function randomSeed(options: ResolveOptions): number {
	if (options.random) {
		const r = options.random();
		// A programming error of the caller (tests pass their own source), not user input.
		if (!(r >= 0 && r < 1)) throw new UpstreamError('internal_error', `random() must return a number in [0, 1), got ${r}`);
		return Math.min(MAX_SEED, Math.floor(r * 2 ** 53));
	}
	return Number(randomBytes(8).readBigUInt64BE() & BigInt(MAX_SEED));
}

export function describeType(def: VariableDefinition): string {
	switch (def.type) {
		case 'string':
			return def.maxLength !== undefined ? `a string of at most ${def.maxLength} characters` : 'a string';
		case 'number':
		case 'integer': {
			const kind = def.type === 'number' ? 'a number' : 'a whole number';
			if (def.min !== undefined && def.max !== undefined) return `${kind} from ${def.min} to ${def.max}`;
			if (def.min !== undefined) return `${kind} ≥ ${def.min}`;
			if (def.max !== undefined) return `${kind} ≤ ${def.max}`;
			return kind;
		}
		case 'boolean':
			return 'true or false';
		case 'enum':
			return `one of ${listOptions(def.options)}`;
		case 'seed':
			return `a seed: a whole number 0..${MAX_SEED}, or -1 for random`;
	}
}

function listOptions(options: readonly string[]): string {
	const shown = options.slice(0, 20).map((o) => JSON.stringify(o));
	return shown.join(', ') + (options.length > 20 ? `, … (${options.length} in all)` : '');
}

/** A declared name that differs only by case or by at most two edits; helps with typos. */
function suggestName(name: string, declared: string[]): string | undefined {
	const lower = name.toLowerCase();
	const byCase = declared.find((d) => d.toLowerCase() === lower);
	if (byCase) return byCase;
	let best: string | undefined;
	let bestDistance = 3;
	for (const candidate of declared) {
		const distance = editDistance(lower, candidate.toLowerCase(), bestDistance);
		if (distance < bestDistance) {
			best = candidate;
			bestDistance = distance;
		}
	}
	return best;
}

function editDistance(a: string, b: string, cap: number): number {
	if (Math.abs(a.length - b.length) >= cap) return cap;
	let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		const current = [i];
		for (let j = 1; j <= b.length; j++) {
			current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
		}
		previous = current;
	}
	return previous[b.length];
}
