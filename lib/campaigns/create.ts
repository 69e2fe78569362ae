/**
 * Create: a draft campaign comparing template versions. Everything that does not need the
 * database is checked by the input schema first, so a bad request writes nothing; template,
 * version and label are then resolved in the same transaction as the inserts.
 */
import { randomBytes } from 'node:crypto';

import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';

import { CAMPAIGN_MODES, insertCampaign, insertVariant, type Campaign } from '../db/campaigns';
import { withTransaction } from '../db/pool';
import { getTemplate, resolveVersion, type TemplateVersion } from '../db/templates';
import { ConflictError, PromptLabError, ValidationError, type ErrorCode, type ErrorOptions } from '../errors';
import { PRIMARY_METRICS, type PrimaryMetric } from '../stats';
import { DEFAULT_LABEL, templateRefSchema, versionSelectorShape } from '../templates/inputs';
import { defineInput, issueCode, text } from '../validation';
import { loadCampaign } from './query';
import { CAMPAIGN_NAME_MAX, requiredText, trimmedText } from './schemas';

const VARIANT_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

const variant = z
	.object({
		key: requiredText({ max: 40, label: 'The key' }).refine((key) => key === '' || VARIANT_KEY_PATTERN.test(key), {
			message: 'The key is invalid: use 1–40 letters, digits, ".", "_" or "-" (e.g. "control", "B")',
			...issueCode('invalid_input'),
		}),
		/** Template by name or ID. */
		template: templateRefSchema,
		/** An exact version number, or a label (default production) resolved to its version at creation. */
		...versionSelectorShape,
		weight: z
			.number({ invalid_type_error: 'The weight must be a number' })
			.finite('The weight must be a finite number')
			.min(0, 'The weight must be 0 or more'),
		isControl: z.boolean({ invalid_type_error: 'Control must be true or false' }).default(false),
	});

const variants = z.array(variant, { invalid_type_error: 'The variants must be a list' }).superRefine((list, ctx) => {
	if (list.length < 2) {
		ctx.addIssue({
			code: 'custom',
			message: `A campaign needs at least two variants (a control and one to compare), got ${list.length}`,
			...issueCode('invalid_input'),
		});
		return;
	}
	const seen = new Set<string>();
	list.forEach((v, i) => {
		const key = v.key.toLowerCase();
		if (seen.has(key)) {
			ctx.addIssue({ code: 'custom', path: [i, 'key'], message: `Key "${v.key}" is used twice; every variant needs its own key`, ...issueCode('invalid_input') });
		}
		seen.add(key);
	});
	const controls = list.filter((v) => v.isControl);
	if (controls.length !== 1) {
		ctx.addIssue({
			code: 'custom',
			message:
				controls.length === 0
					? 'No variant is marked as the control: mark exactly one (usually the current production version)'
					: `${controls.length} variants are marked as the control (${controls.map((v) => `"${v.key}"`).join(', ')}): mark exactly one`,
			...issueCode('invalid_input'),
		});
		return;
	}
	if (!(list.reduce((sum, v) => sum + v.weight, 0) > 0)) {
		ctx.addIssue({ code: 'custom', message: 'All variant weights are 0: at least the control needs a weight above 0', ...issueCode('invalid_input') });
		return;
	}
	const control = list.findIndex((v) => v.isControl);
	if (!(list[control].weight > 0)) {
		ctx.addIssue({
			code: 'custom',
			path: [control, 'weight'],
			message: `The control "${list[control].key}" has weight 0: it needs traffic to compare against`,
			...issueCode('invalid_input'),
		});
	}
});

export const createCampaignInput = defineInput(
	z
		.object({
			name: requiredText({ max: CAMPAIGN_NAME_MAX, label: 'The campaign name' }),
			description: text({ max: 5000, label: 'The description' }).default(''),
			variants,
			primaryMetric: z
				.enum(PRIMARY_METRICS as [PrimaryMetric, ...PrimaryMetric[]], {
					errorMap: () => ({ message: `The primary metric must be one of ${PRIMARY_METRICS.join(', ')}` }),
				})
				.default('good_rating_share'),
			minSamplePerVariant: z
				.number({ invalid_type_error: 'The minimum sample per variant must be a number' })
				.int('The minimum sample per variant must be a whole number')
				.min(1, 'The minimum sample per variant must be 1 or more')
				.default(100),
			mode: z.enum(CAMPAIGN_MODES, { errorMap: () => ({ message: 'The mode must be fixed or thompson' }) }).default('fixed'),
			/** Minimum share of traffic per variant in Thompson mode. */
			thompsonFloor: z.number({ invalid_type_error: 'The Thompson floor must be a number' }).default(0.05),
			/** Hashing seed; generated when absent or blank. Same seed + unit id → same variant. */
			seed: trimmedText({ max: 200, label: 'The seed' }).optional(),
		})
		.superRefine((input, ctx) => {
			const activeArms = input.variants.filter((v) => v.weight > 0).length;
			const floor = input.thompsonFloor;
			if (!(floor >= 0) || floor >= 1 || (input.mode === 'thompson' && floor * activeArms > 1 + 1e-12)) {
				ctx.addIssue({
					code: 'custom',
					path: ['thompsonFloor'],
					message: `The Thompson floor must be between 0 and 1/${activeArms} (the number of variants with a weight), got ${String(floor)}`,
					...issueCode('invalid_input'),
				});
			}
		}),
);

export type CreateCampaignInput = z.input<typeof createCampaignInput.schema>;
export type CampaignVariantSpec = z.input<typeof variant>;

/** Issues inside a variant say which one ("Variant 2 ("B"): ..."); the field stays the schema path. */
function parseCreate(input: CreateCampaignInput) {
	try {
		return createCampaignInput.parse(input);
	} catch (error) {
		const index = error instanceof ValidationError ? /^variants\.(\d+)(\.|$)/.exec(error.field ?? '')?.[1] : undefined;
		if (index === undefined) throw error;
		const raw = (input as { variants?: unknown[] }).variants?.[Number(index)] as { key?: unknown } | undefined;
		throw inVariant(error as ValidationError, Number(index), typeof raw?.key === 'string' ? raw.key.trim() : '');
	}
}

function inVariant(error: PromptLabError, index: number, key: string, field?: string): PromptLabError {
	const Same = error.constructor as new (code: ErrorCode, message: string, options?: ErrorOptions) => PromptLabError;
	return new Same(error.code, `Variant ${index + 1}${key ? ` ("${key}")` : ''}: ${error.message}`, {
		field: field ?? error.field,
		hint: error.hint,
		details: error.details,
		cause: error,
	});
}

/** Which part of a variant a template lookup failure is about. */
const VARIANT_FIELD_OF: Partial<Record<ErrorCode, string>> = {
	template_not_found: 'template',
	template_archived: 'template',
	version_not_found: 'version',
	label_not_found: 'label',
};

type ParsedVariant = ReturnType<typeof parseCreate>['variants'][number];

async function resolveVariant(client: PoolClient, v: ParsedVariant, index: number): Promise<{ templateId: string; version: TemplateVersion; label: string | null }> {
	try {
		const template = await getTemplate(client, v.template);
		if (template.archived) {
			throw new ConflictError('template_archived', `Template "${template.name}" is archived`, {
				hint: 'Unarchive the template, or compare another one',
				details: { templateId: template.id },
			});
		}
		const selector = v.version !== undefined ? { version: v.version } : { label: v.label ?? DEFAULT_LABEL };
		const { version, resolvedBy } = await resolveVersion(client, template, selector);
		return { templateId: template.id, version, label: resolvedBy === 'label' ? (selector.label ?? null) : null };
	} catch (error) {
		if (!(error instanceof PromptLabError)) throw error;
		const part = VARIANT_FIELD_OF[error.code];
		throw inVariant(error, index, v.key, `variants.${index}${part ? `.${part}` : ''}`);
	}
}

export async function createCampaign(pool: Pool, input: CreateCampaignInput): Promise<Campaign> {
	const spec = parseCreate(input);
	return withTransaction(pool, async (client) => {
		const campaignId = await insertCampaign(client, {
			name: spec.name,
			description: spec.description,
			primaryMetric: spec.primaryMetric,
			mode: spec.mode,
			thompsonFloor: spec.thompsonFloor,
			minSamplePerVariant: spec.minSamplePerVariant,
			seed: spec.seed || randomBytes(12).toString('hex'),
		});
		for (const [position, v] of spec.variants.entries()) {
			const resolved = await resolveVariant(client, v, position);
			await insertVariant(client, {
				campaignId,
				key: v.key,
				position,
				templateId: resolved.templateId,
				versionId: resolved.version.id,
				label: resolved.label,
				weight: v.weight,
				isControl: v.isControl,
			});
		}
		return loadCampaign(client, { id: campaignId });
	});
}
