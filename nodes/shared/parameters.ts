import type { IExecuteFunctions, INodeParameterResourceLocator } from 'n8n-workflow';

import { PromptLabError } from '../../lib/db/errors';
import type { TemplateRef, VersionSelector } from '../../lib/db/templates';

/** Reads the template resource locator of item i as a repository reference. */
export function readTemplateRef(ctx: IExecuteFunctions, itemIndex: number, parameter = 'template'): TemplateRef {
	const rl = ctx.getNodeParameter(parameter, itemIndex) as INodeParameterResourceLocator | string;
	const mode = typeof rl === 'string' ? 'name' : rl.mode;
	const value = String(typeof rl === 'string' ? rl : rl.value ?? '').trim();
	if (!value) throw new PromptLabError('No template selected: pick one from the list, or give its name or ID', parameter);
	return mode === 'id' || mode === 'list' ? { id: value } : { name: value };
}

export function readVersionSelector(ctx: IExecuteFunctions, itemIndex: number): VersionSelector {
	const selection = ctx.getNodeParameter('versionSelection', itemIndex, 'label') as string;
	if (selection === 'version') {
		const version = Number(ctx.getNodeParameter('version', itemIndex));
		if (!Number.isInteger(version) || version < 1) {
			throw new PromptLabError(`Version must be a whole number of 1 or more (got ${String(version)})`, 'version');
		}
		return { version };
	}
	return { label: String(ctx.getNodeParameter('label', itemIndex, 'production') || 'production') };
}

/**
 * A JSON parameter may arrive as a string (typed in the editor) or as an object (from an
 * expression). Either way the result is a parsed value, or an error naming the field.
 */
export function parseJsonParameter(value: unknown, field: string, label: string): unknown {
	if (typeof value !== 'string') return value;
	const text = value.trim();
	if (text === '') return undefined;
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new PromptLabError(`${label} is not valid JSON: ${(error as Error).message}`, field);
	}
}

/** Comma-separated text or an array → trimmed, non-empty strings. */
export function parseList(value: unknown): string[] {
	const parts = Array.isArray(value) ? value : String(value ?? '').split(',');
	return parts.map((p) => String(p).trim()).filter((p) => p.length > 0);
}
