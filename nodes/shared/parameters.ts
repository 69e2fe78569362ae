import type { IExecuteFunctions, INodeParameterResourceLocator } from 'n8n-workflow';

import { ValidationError } from '../../lib/errors';
import { templateRefInput, versionSelectorInput, type TemplateRef, type VersionSelector } from '../../lib/templates/inputs';

/**
 * The template resource locator of item i as the `{ id } | { name }` a use case takes, unchecked:
 * the use case's input schema validates it (field `template`). "From List" gives the ID.
 */
export function readTemplateLocator(ctx: IExecuteFunctions, itemIndex: number, parameter = 'template'): { id: string } | { name: string } {
	const rl = ctx.getNodeParameter(parameter, itemIndex) as INodeParameterResourceLocator | string;
	const mode = typeof rl === 'string' ? 'name' : rl.mode;
	const value = String(typeof rl === 'string' ? rl : (rl.value ?? ''));
	return mode === 'id' || mode === 'list' ? { id: value } : { name: value };
}

/** The template locator of item i, checked by the templates' input schema (for nodes calling the repository directly). */
export function readTemplateRef(ctx: IExecuteFunctions, itemIndex: number, parameter = 'template'): TemplateRef {
	return templateRefInput.parse({ template: readTemplateLocator(ctx, itemIndex, parameter) }).template;
}

/** The version selection parameters of item i, unchecked (`label` or `version`, as a use case takes them). */
export function readVersionSelection(ctx: IExecuteFunctions, itemIndex: number): { label?: string; version?: number } {
	const selection = ctx.getNodeParameter('versionSelection', itemIndex, 'label') as string;
	if (selection === 'version') {
		// An expression may give "3"; a non-numeric string becomes NaN, which the schema refuses.
		const version = ctx.getNodeParameter('version', itemIndex) as unknown;
		return { version: typeof version === 'string' ? Number(version) : (version as number) };
	}
	return { label: (ctx.getNodeParameter('label', itemIndex, '') as string) || undefined };
}

/** The version selection of item i, checked by the templates' input schema (fields `version`, `label`). */
export function readVersionSelector(ctx: IExecuteFunctions, itemIndex: number): VersionSelector {
	return versionSelectorInput.parse(readVersionSelection(ctx, itemIndex));
}

/**
 * A JSON parameter may arrive as a string (typed in the editor) or as an object (from an
 * expression). Either way the result is a parsed value, or an invalid_json error naming `field`
 * (the input-schema name of the parameter); `label` is its display name for the message.
 */
export function parseJsonParameter(value: unknown, field: string, label: string): unknown {
	if (typeof value !== 'string') return value;
	const text = value.trim();
	if (text === '') return undefined;
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new ValidationError('invalid_json', `${label} is not valid JSON: ${(error as Error).message}`, { field });
	}
}

/** Comma-separated text or an array → trimmed, non-empty strings. */
export function parseList(value: unknown): string[] {
	const parts = Array.isArray(value) ? value : String(value ?? '').split(',');
	return parts.map((p) => String(p).trim()).filter((p) => p.length > 0);
}
