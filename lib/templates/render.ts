import { ConflictError, ValidationError } from '../errors';
import {
	parseVariableDefinitions,
	RESERVED_VARIABLE_NAMES,
	resolveVariables,
	type ResolvedValues,
	type VariableValue,
} from './variables';
import { isLink, isPlainObject, parseApiWorkflow, workflowChecksum, type ApiNode, type ApiWorkflow, type JsonObject, type JsonValue } from './workflow';

/**
 * Placeholder syntax (the whole rule):
 * - A placeholder is `{{`, optional whitespace, an identifier (a letter or _, then letters, digits,
 *   _), optional whitespace, `}}`: `{{subject}}`, `{{ subject }}`.
 * - Anything else with braces is plain text and stays exactly as written: `{{ 5 }}`, `{{}`, `{{}}`,
 *   `{{a b}}`, `{{a.b}}`, `{{#if x}}`, `{"a": {"b": 1}}`. In `{{{name}}}` the inner `{{name}}` is a
 *   placeholder and the outer braces stay.
 * - Escaping: a backslash right before a placeholder makes it literal: `\{{name}}` renders as
 *   `{{name}}`. In a run of backslashes before a placeholder each `\\` renders as one `\`, and an
 *   odd run escapes the placeholder: `\\{{name}}` renders as `\` followed by the value. Backslashes
 *   anywhere else are untouched (Windows paths, prompt weights stay as they are).
 * - Substitution is single-pass: text that comes from a value is never scanned again, so a value
 *   containing `{{other}}` stays literally `{{other}}`.
 * - A placeholder naming a variable that has no value (not declared) is an error naming it.
 */
const PLACEHOLDER = /(\\*)\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const EXACT_PLACEHOLDER = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

export type RenderValues = Readonly<Record<string, VariableValue>>;

/** Where a placeholder sits: a sentence for the message, the template field holding it. */
interface PlaceholderSite {
	where: string;
	/** `positivePrompt`, `negativePrompt` or `workflow`: the field of the template version to fix. */
	field?: string;
}

/**
 * Substitutes `{{name}}` placeholders with String(value). `where` (e.g. 'the positive prompt')
 * only improves error messages; `field` is the template field the text came from.
 */
export function renderText(text: string, values: RenderValues, where = 'the text', field?: string): string {
	if (!text.includes('{{')) return text;
	return text.replace(PLACEHOLDER, (match: string, slashes: string, name: string) => {
		const kept = '\\'.repeat(slashes.length >> 1);
		if (slashes.length % 2 === 1) return kept + match.slice(slashes.length);
		return kept + String(lookup(values, name, { where, field }));
	});
}

/**
 * A placeholder with no value is a fault of the template version, not of the values: the error
 * names the placeholder (details.placeholder) and the version field that holds it.
 */
function lookup(values: RenderValues, name: string, site: PlaceholderSite): VariableValue {
	if (Object.prototype.hasOwnProperty.call(values, name)) return values[name];
	const details = { placeholder: name };
	if (RESERVED_VARIABLE_NAMES.includes(name)) {
		throw new ValidationError(
			'placeholder_unknown',
			`{{${name}}} in ${site.where} is not available there: it can only be used in the workflow, where it receives the rendered prompt`,
			{ field: site.field, details, hint: `Remove {{${name}}} from ${site.where}, or write \\{{${name}}} for the literal text` },
		);
	}
	throw new ValidationError(
		'placeholder_unknown',
		`{{${name}}} in ${site.where} names no declared variable`,
		{
			field: site.field,
			details,
			hint: `Declare "${name}" in the template's variables (a new version), or write \\{{${name}}} for the literal text`,
		},
	);
}

/**
 * Substitutes placeholders in every string input of an API-format workflow, recursively through
 * arrays and objects (including `{"__value__": [...]}` literal lists). Link inputs (`["4", 0]`),
 * object keys, class_type and _meta are never touched. A string input that is exactly one
 * placeholder (surrounding whitespace ignored) takes the typed value: `"{{steps}}"` becomes the
 * number 20, not "20". Works on parsed objects, so no value can break the JSON. Returns a new
 * workflow; the input is not mutated.
 */
export function renderWorkflow(workflow: ApiWorkflow, values: RenderValues): ApiWorkflow {
	const rendered: ApiWorkflow = {};
	for (const [nodeId, node] of Object.entries(workflow)) {
		const copy = deepCopy(node as unknown as JsonValue) as ApiNode;
		const inputs: JsonObject = {};
		for (const [name, input] of Object.entries(node.inputs)) {
			inputs[name] = renderValue(input, values, `workflow node "${nodeId}" (${node.class_type}) input "${name}"`, true);
		}
		copy.inputs = inputs;
		rendered[nodeId] = copy;
	}
	return rendered;
}

function renderValue(value: JsonValue, values: RenderValues, where: string, isInput: boolean): JsonValue {
	if (typeof value === 'string') {
		if (!value.includes('{{')) return value;
		const exact = EXACT_PLACEHOLDER.exec(value.trim());
		if (exact) return lookup(values, exact[1], { where, field: 'workflow' });
		return renderText(value, values, where, 'workflow');
	}
	if (Array.isArray(value)) {
		if (isInput && isLink(value)) return [value[0], value[1]];
		return value.map((item) => renderValue(item, values, where, false));
	}
	if (value !== null && typeof value === 'object') {
		const copy: JsonObject = {};
		for (const [key, item] of Object.entries(value)) copy[key] = renderValue(item, values, where, false);
		return copy;
	}
	return value;
}

function deepCopy(value: JsonValue): JsonValue {
	if (Array.isArray(value)) return value.map(deepCopy);
	if (value !== null && typeof value === 'object') {
		const copy: JsonObject = {};
		for (const [key, item] of Object.entries(value)) copy[key] = deepCopy(item);
		return copy;
	}
	return value;
}

/**
 * Names used as placeholders (escaped ones excluded), unique, in order of first appearance.
 * For a workflow, only string inputs are scanned (like the renderer).
 */
export function listPlaceholders(source: string | ApiWorkflow): string[] {
	const names = new Set<string>();
	const scan = (value: unknown) => {
		if (typeof value === 'string') {
			if (!value.includes('{{')) return;
			for (const match of value.matchAll(PLACEHOLDER)) {
				if (match[1].length % 2 === 0) names.add(match[2]);
			}
		} else if (Array.isArray(value)) {
			value.forEach(scan);
		} else if (isPlainObject(value)) {
			Object.values(value).forEach(scan);
		}
	};
	if (typeof source === 'string') scan(source);
	else for (const node of Object.values(source)) scan(node.inputs);
	return [...names];
}

export interface RenderTemplateInput {
	positivePrompt?: string | null;
	negativePrompt?: string | null;
	/** API-format workflow (object or JSON text); null/undefined for text-only templates. */
	workflow?: unknown;
	/** Variable definitions, raw (validated here) or already parsed. */
	variables?: unknown;
	values?: Record<string, unknown> | null;
	random?: () => number;
	/**
	 * The checksum stored with the template version (or recorded by an earlier render). When given
	 * and the workflow's checksum differs, the render fails with 'workflow_checksum_mismatch'.
	 */
	expectedWorkflowChecksum?: string | null;
}

export interface RenderedTemplate {
	positivePrompt: string;
	negativePrompt: string;
	/** The rendered workflow, ready for POST /prompt; null for text-only templates. */
	workflow: ApiWorkflow | null;
	/**
	 * Checksum of the template's workflow before rendering (what template_versions.workflow_checksum
	 * stores): equal across renders of one version, different when the template's workflow changed.
	 */
	workflowChecksum: string | null;
	/** Checksum of the rendered workflow: identifies exactly what was sent (changes with seeds etc.). */
	renderedWorkflowChecksum: string | null;
	/** The resolved variable values (defaults applied, random seeds drawn, strings coerced). */
	values: ResolvedValues;
}

/**
 * Renders a template version: validates the definitions and values, renders both prompts, then the
 * workflow with the variables plus the built-ins {{positive_prompt}} and {{negative_prompt}}
 * (the rendered prompts, so a CLIPTextEncode `text` input can be "{{positive_prompt}}").
 */
export function renderTemplate(input: RenderTemplateInput): RenderedTemplate {
	const definitions = parseVariableDefinitions(input.variables);
	const values = resolveVariables(definitions, input.values, { random: input.random });
	const positivePrompt = renderText(input.positivePrompt ?? '', values, 'the positive prompt', 'positivePrompt');
	const negativePrompt = renderText(input.negativePrompt ?? '', values, 'the negative prompt', 'negativePrompt');

	if (input.workflow === undefined || input.workflow === null || input.workflow === '') {
		return { positivePrompt, negativePrompt, workflow: null, workflowChecksum: null, renderedWorkflowChecksum: null, values };
	}
	const templateWorkflow = parseApiWorkflow(input.workflow);
	const checksum = workflowChecksum(templateWorkflow);
	if (input.expectedWorkflowChecksum && input.expectedWorkflowChecksum !== checksum) {
		throw new ConflictError(
			'workflow_checksum_mismatch',
			`The template's workflow changed: its checksum is ${checksum}, expected ${input.expectedWorkflowChecksum}`,
			{
				field: 'expectedWorkflowChecksum',
				details: { workflowChecksum: checksum, expectedWorkflowChecksum: input.expectedWorkflowChecksum },
				hint: 'Compare the versions (Version → Diff), then render with the new checksum',
			},
		);
	}
	const workflow = renderWorkflow(templateWorkflow, {
		...values,
		positive_prompt: positivePrompt,
		negative_prompt: negativePrompt,
	});
	return {
		positivePrompt,
		negativePrompt,
		workflow,
		workflowChecksum: checksum,
		renderedWorkflowChecksum: workflowChecksum(workflow),
		values,
	};
}
