/**
 * Input schemas of the template use cases (lib/templates/manage.ts): one defineInput each, so a
 * node, a workflow or a script validates a request once, here, and every failure is a
 * ValidationError whose `field` is a path of these schemas (`name`, `labels.1`, `variables.0.type`,
 * `workflow`, `template`). Pure zod: no database.
 */
import { z } from 'zod';

import { ValidationError } from '../errors';
import { defineInput, findTextProblem, issueCode, text } from '../validation';
import { parseVariableDefinitionsInput, type VariableDefinition } from './variables';
import { parseWorkflowInput, workflowChecksum, type ApiWorkflow } from './workflow';

/** What the database's CHECK on template_labels.label allows: `production`, `staging`, `canary-2`. */
export const LABEL_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
/** The label a new template gets, and the one a version selector follows by default. */
export const DEFAULT_LABEL = 'production';

export const TEMPLATE_KINDS = ['image', 'text'] as const;
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];

/** A template by ID (UUID) or by name (case-insensitive). */
export type TemplateRef = { id: string } | { name: string };

/** A version by number, or the version a label points to (default `production`). */
export interface VersionSelector {
	label?: string;
	version?: number;
}

export const TEMPLATE_SORT_FIELDS = ['name', 'createdAt', 'updatedAt', 'category', 'latestVersion'] as const;
export type TemplateSortField = (typeof TEMPLATE_SORT_FIELDS)[number];

const trimmed = <S extends z.ZodType<string, z.ZodTypeDef, string>>(schema: S) => schema.transform((value) => value.trim());

/**
 * `{ id }` or `{ name }`, as the template pickers give it. Whether the ID exists (and is a UUID at
 * all) is the repository's answer: template_not_found, like any unknown template.
 */
export const templateRefSchema = z
	.object({
		id: trimmed(text({ max: 200, label: 'The template ID' })).optional(),
		name: trimmed(text({ max: 200, label: 'The template name' })).optional(),
	})
	.strict()
	.transform((ref, ctx): TemplateRef => {
		if (ref.id) return { id: ref.id };
		if (ref.name) return { name: ref.name };
		ctx.addIssue({
			code: 'custom',
			message: 'No template selected: pick one from the list, or give its name or ID',
			...issueCode('field_required'),
		});
		return z.NEVER;
	});

const versionNumber = z
	.number({ invalid_type_error: 'The version must be a whole number of 1 or more' })
	.int('The version must be a whole number of 1 or more')
	.min(1, 'The version must be a whole number of 1 or more');

/** A label name: trimmed, lower-case letters, digits, '.', '_' or '-'. */
export const labelSchema = trimmed(text({ max: 63, label: 'The label' })).refine((label) => LABEL_PATTERN.test(label), (label) => ({
	message: `Invalid label "${label}": use lower-case letters, digits, '.', '_' or '-' (e.g. "production", "staging")`,
	...issueCode('invalid_input'),
}));

/** Comma-separated text or a list: trimmed, empty entries dropped. */
function listOf<T extends z.ZodTypeAny>(item: T, max: number) {
	return z.preprocess(
		(value) => (typeof value === 'string' ? value.split(',') : value),
		z
			.array(z.preprocess((entry) => (typeof entry === 'string' ? entry.trim() : entry), z.unknown()))
			.transform((entries) => entries.filter((entry) => entry !== ''))
			.pipe(z.array(item).max(max, `At most ${max} entries`)),
	);
}

/** Tags are case-insensitive: stored lower-case, each once. */
const tagsSchema = listOf(text({ max: 50, label: 'A tag' }), 50).transform((tags) => [
	...new Set(tags.map((tag) => tag.toLowerCase())),
]);

const labelsSchema = listOf(labelSchema, 20).transform((labels) => [...new Set(labels)]);

/** Optional free text: null/undefined/blank → undefined. */
const optionalText = (max?: number, label?: string) =>
	text({ max, label })
		.nullish()
		.transform((value) => (value?.trim() ? value.trim() : undefined));

/** The version selector fields of an input: `label` and `version`. */
export const versionSelectorShape = {
	label: optionalText(63, 'The label').pipe(labelSchema.optional()),
	version: versionNumber.nullish().transform((version) => version ?? undefined),
};

export const versionSelectorInput = defineInput(z.object(versionSelectorShape));
export const templateRefInput = defineInput(z.object({ template: templateRefSchema }));

// ─────────────────────────────── version content ───────────────────────────────

/** A version's content, validated and ready to store (what the repository inserts). */
export interface NewVersionContent {
	positivePrompt: string;
	negativePrompt: string;
	workflow: ApiWorkflow | null;
	workflowChecksum: string | null;
	variables: VariableDefinition[];
	defaultParams: Record<string, unknown>;
	commitMessage: string;
	author: string | null;
}

function isBlank(value: unknown): boolean {
	return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/**
 * The content of one version: prompts, API-format workflow (object or JSON text), variable
 * definitions (list or JSON text). Workflow and definitions are checked by the parsers the
 * renderer uses (parseApiWorkflow, parseVariableDefinitions) plus the text rule for new input,
 * whose ValidationErrors name `workflow` and `variables.<index>.<property>`.
 */
export const versionContentShape = {
	positivePrompt: text({ label: 'The positive prompt' }).nullish().transform((value) => value ?? ''),
	negativePrompt: text({ label: 'The negative prompt' }).nullish().transform((value) => value ?? ''),
	workflow: z.unknown().transform((value) => (isBlank(value) ? null : parseWorkflowInput(value))),
	variables: z.unknown().transform((value) => parseVariableDefinitionsInput(value)),
	defaultParams: z
		.record(z.unknown(), { invalid_type_error: 'Default parameters must be a JSON object' })
		.nullish()
		.transform((value) => value ?? {})
		.superRefine((params, ctx) => {
			const bad = findTextProblem(params);
			if (bad) ctx.addIssue({ code: 'custom', path: bad.path, message: `The text ${bad.problem}`, ...issueCode('invalid_text') });
		}),
	commitMessage: text({ max: 2000, label: 'The commit message' }).nullish().transform((value) => value ?? ''),
	author: optionalText(200, 'The author').transform((value) => value ?? null),
};

function withChecksum(content: z.output<z.ZodObject<typeof versionContentShape>>): NewVersionContent {
	return { ...content, workflowChecksum: content.workflow ? workflowChecksum(content.workflow) : null };
}

/** A version's content on its own (the first version of Create Template). */
export const versionContentInput = defineInput(z.object(versionContentShape).transform(withChecksum));
export type VersionContentInput = z.input<typeof versionContentInput.schema>;

/** An image template renders through a workflow or at least has a prompt; a text template may be empty. */
export function checkContentForKind(kind: TemplateKind, content: NewVersionContent): void {
	if (kind === 'image' && !content.workflow && !content.positivePrompt) {
		throw new ValidationError('field_required', 'An image template needs a ComfyUI workflow (API format) or a positive prompt', {
			field: 'workflow',
			hint: 'Paste the workflow exported with Workflow → Export (API) in ComfyUI',
		});
	}
}

// ─────────────────────────────── create ───────────────────────────────

const templateFields = {
	name: trimmed(text({ max: 200, label: 'The name' })).refine((name) => name !== '', {
		message: 'The name is required',
		...issueCode('field_required'),
	}),
	kind: z.enum(TEMPLATE_KINDS, { errorMap: () => ({ message: `The kind must be one of ${TEMPLATE_KINDS.join(', ')}` }) }),
	category: optionalText(100, 'The category').transform((value) => value ?? null),
	tags: tagsSchema.optional().transform((tags) => tags ?? []),
	description: text({ max: 5000, label: 'The description' }).nullish().transform((value) => value ?? ''),
};

/**
 * Create a template and its version 1. The first version's fields are those of a version's content
 * (field `workflow`, `variables.0.name`, ... as in Create Version: one set of names for one thing).
 * `labels` default to ["production"], so a new template is usable at once; [] for none.
 */
export const createTemplateInput = defineInput(
	z
		.object({
			...templateFields,
			labels: labelsSchema.optional().transform((labels) => labels ?? [DEFAULT_LABEL]),
			firstVersion: z
				.custom<VersionContentInput>((value) => typeof value === 'object' && !Array.isArray(value), 'The first version must be an object')
				.nullish(),
		})
		// Parsed on its own so its fields are named as in Create Version (`workflow`, not `firstVersion.workflow`).
		.transform(({ firstVersion, ...template }) => ({ ...template, firstVersion: versionContentInput.parse(firstVersion ?? {}) })),
	{ kind: 'invalid_input' },
);
export type CreateTemplateInput = z.input<typeof createTemplateInput.schema>;

/** Add a version to a template, optionally moving labels to it. */
export const createVersionInput = defineInput(
	z
		.object({ template: templateRefSchema, ...versionContentShape, labels: labelsSchema.optional().transform((labels) => labels ?? []) })
		.transform(({ template, labels, ...content }) => ({ template, labels, content: withChecksum(content) })),
);
export type CreateVersionInput = z.input<typeof createVersionInput.schema>;

// ─────────────────────────────── read ───────────────────────────────

/** One template at a label (default production, falling back to the newest version) or a version number. */
export const getTemplateVersionInput = defineInput(z.object({ template: templateRefSchema, ...versionSelectorShape }));
export type GetTemplateVersionInput = z.input<typeof getTemplateVersionInput.schema>;

const limitSchema = z
	.number({ invalid_type_error: 'The limit must be a whole number' })
	.int('The limit must be a whole number')
	.min(1, 'The limit must be 1 or more')
	.max(10_000, 'The limit must be at most 10000');

/** Search templates: filters, a whitelisted sort, a page or every page (returnAll). */
export const findTemplatesInput = defineInput(
	z.object({
		returnAll: z.boolean().default(false),
		limit: limitSchema.default(50),
		offset: z.number().int().min(0, 'The offset must be 0 or more').default(0),
		category: optionalText(100, 'The category'),
		kind: z.enum(TEMPLATE_KINDS).nullish().transform((kind) => kind ?? undefined),
		search: optionalText(200, 'The search text'),
		tagsAny: tagsSchema.optional().transform((tags) => tags ?? []),
		tagsAll: tagsSchema.optional().transform((tags) => tags ?? []),
		includeArchived: z.boolean().default(false),
		sortBy: z
			.enum(TEMPLATE_SORT_FIELDS, { errorMap: () => ({ message: `Sort by must be one of ${TEMPLATE_SORT_FIELDS.join(', ')}` }) })
			.default('name'),
		sortOrder: z.enum(['asc', 'desc']).default('asc'),
	}),
);
export type FindTemplatesInput = z.input<typeof findTemplatesInput.schema>;

/** The versions of a template, newest first. */
export const listTemplateVersionsInput = defineInput(
	z.object({ template: templateRefSchema, returnAll: z.boolean().default(false), limit: limitSchema.default(50) }),
);
export type ListTemplateVersionsInput = z.input<typeof listTemplateVersionsInput.schema>;

/** What changed between two versions of one template. */
export const diffTemplateVersionsInput = defineInput(
	z.object({ template: templateRefSchema, fromVersion: versionNumber, toVersion: versionNumber }),
);
export type DiffTemplateVersionsInput = z.input<typeof diffTemplateVersionsInput.schema>;

// ─────────────────────────────── labels, archive ───────────────────────────────

const moveNote = {
	movedBy: optionalText(200, 'Moved by').transform((value) => value ?? null),
	reason: optionalText(2000, 'The reason').transform((value) => value ?? null),
};

/** Point a label at a version (recorded in the label history). */
export const setTemplateLabelInput = defineInput(
	z.object({ template: templateRefSchema, label: labelSchema, version: versionNumber, ...moveNote }),
);
export type SetTemplateLabelInput = z.input<typeof setTemplateLabelInput.schema>;

/** Move a label back to where it pointed before its last move. */
export const rollbackTemplateLabelInput = defineInput(z.object({ template: templateRefSchema, label: labelSchema, ...moveNote }));
export type RollbackTemplateLabelInput = z.input<typeof rollbackTemplateLabelInput.schema>;

/** Every move of one label (or of all labels), newest first. */
export const getLabelHistoryInput = defineInput(
	z.object({
		template: templateRefSchema,
		label: optionalText(63, 'The label').pipe(labelSchema.optional()),
		limit: limitSchema.default(50),
	}),
);
export type GetLabelHistoryInput = z.input<typeof getLabelHistoryInput.schema>;

/** Archive a template (archived: true) or restore it (false). */
export const archiveTemplateInput = defineInput(z.object({ template: templateRefSchema, archived: z.boolean().default(true) }));
export type ArchiveTemplateInput = z.input<typeof archiveTemplateInput.schema>;
