/**
 * The input schemas of the generation use cases (defineInput): the one place where a Generate or
 * Render request is validated. Fields are named as the use case takes them (`template`, `values`,
 * `overrides.seed`, `timeout`, `userId`...), which is what `field` of a ValidationError says.
 */
import { z } from 'zod';

import { UUID_PATTERN } from '../db/executions';
import { defineInput, issueCode, text } from '../validation';

/** n8n hands over what a parameter or expression gave: '' and null mean "not set". */
function blankToUndefined(value: unknown): unknown {
	if (value === null || value === undefined) return undefined;
	if (typeof value === 'string' && value.trim() === '') return undefined;
	return typeof value === 'string' ? value.trim() : value;
}

/** A number that may arrive as text from an expression ("42"); anything else is left for zod to refuse. */
function numberFromText(value: unknown): unknown {
	const blank = blankToUndefined(value);
	if (typeof blank === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(blank)) return Number(blank);
	return blank;
}

const optionalNumber = (schema: z.ZodNumber) => z.preprocess(numberFromText, schema.optional());

const uuid = (label: string) =>
	z.preprocess(
		blankToUndefined,
		text({ label })
			.refine((value) => UUID_PATTERN.test(value), { message: `${label} must be a UUID`, ...issueCode('invalid_input') })
			.transform((value) => value.toLowerCase())
			.optional(),
	);

/** Text that may arrive as a number from an expression (a numeric user id): taken as its decimal text. */
function textFromNumber(value: unknown): unknown {
	return typeof value === 'number' || typeof value === 'bigint' ? String(value) : blankToUndefined(value);
}

const optionalText = (label: string, max: number) => z.preprocess(textFromNumber, text({ label, max }).optional());

/** An optional field made required: missing is field_required with `message`; what passes is the value. */
function required<T extends z.ZodTypeAny>(schema: T, message: string) {
	return schema
		.superRefine((value, ctx) => {
			if (value === undefined) ctx.addIssue({ code: 'custom', message, ...issueCode('field_required') });
		})
		.transform((value) => value as NonNullable<z.output<T>>);
}

const templateRefUnion = z.union([
	z.object({ id: text({ label: 'The template ID', max: 100 }) }).strict(),
	z.object({ name: text({ label: 'The template name', max: 200 }) }).strict(),
]);

/** A template by id or by name (the template picker's modes); missing is field_required. */
export const templateRefSchema = required(templateRefUnion.optional(), 'No template selected: pick one from the list, or give its name or ID');

/** A version by number, or by label (default `production`). */
export const versionSelectorSchema = {
	version: optionalNumber(z.number({ invalid_type_error: 'Version must be a number' }).int('Version must be a whole number').min(1, 'Version must be 1 or more')),
	label: optionalText('The label', 63),
};

/** Variable values: a JSON object (its strings are checked by the renderer, which names `values.<variable>`). */
export const valuesSchema = z.preprocess(
	(value) => (value === undefined || value === null || value === '' ? {} : value),
	z.record(z.string(), z.unknown(), { invalid_type_error: 'Variable values must be a JSON object such as {"product": "sneaker"}' }),
);

export const renderInput = defineInput(
	z.object({
		template: templateRefSchema,
		...versionSelectorSchema,
		values: valuesSchema,
		/** A checksum from an earlier render: the result says whether the template workflow changed since. */
		expectedChecksum: optionalText('The expected checksum', 200),
	}),
);

export type RenderInput = z.input<typeof renderInput.schema>;
export type RenderRequest = z.output<typeof renderInput.schema>;

const overridesSchema = z
	.object({
		// Ranges are applyOverrides' (lib/templates/workflow.ts), which names `overrides.<key>` the same way.
		seed: optionalNumber(z.number({ invalid_type_error: 'Seed must be a number' })),
		randomSeed: z.boolean().optional(),
		steps: optionalNumber(z.number({ invalid_type_error: 'Steps must be a number' })),
		cfg: optionalNumber(z.number({ invalid_type_error: 'CFG must be a number' })),
		width: optionalNumber(z.number({ invalid_type_error: 'Width must be a number' })),
		height: optionalNumber(z.number({ invalid_type_error: 'Height must be a number' })),
		checkpoint: optionalText('The checkpoint name', 500),
	})
	.default({});

const outputSelection = z.enum(['saved', 'all']).default('saved');

const PARALLEL_ITEMS = 'Parallel Items must be a whole number from 1 to 16';
const parallelItemsSchema = z.preprocess(
	numberFromText,
	z.number({ invalid_type_error: PARALLEL_ITEMS }).int(PARALLEL_ITEMS).min(1, PARALLEL_ITEMS).max(16, PARALLEL_ITEMS).default(1),
);

/**
 * How many jobs of one Generate run at once. The run reads it once (from its first item) before
 * the items start, with the same rule the per-item input applies.
 */
export const parallelItemsInput = defineInput(z.object({ parallelItems: parallelItemsSchema }));

const MAX_PER_USER_LIMIT = 1_000_000;

/**
 * A per-user job limit: a whole number of jobs, where 0 (the node's default) and empty mean no
 * limit and come out as undefined.
 */
function perUserLimit(what: string) {
	const message = `${what} must be a whole number of jobs from 0 (no limit) to ${MAX_PER_USER_LIMIT}`;
	return z.preprocess(
		numberFromText,
		z
			.number({ invalid_type_error: message })
			.int(message)
			.min(0, message)
			.max(MAX_PER_USER_LIMIT, message)
			.optional()
			.transform((limit) => (limit === 0 ? undefined : limit)),
	);
}

function isBlank(value: unknown): boolean {
	return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** What every Generate request has, whichever the source. */
const jobFields = {
	overrides: overridesSchema,
	waitForCompletion: z.boolean().default(true),
	/** Caller-chosen id (also the ComfyUI prompt id) that makes re-runs idempotent. */
	executionId: uuid('The execution ID'),
	timeout: z.preprocess(
		numberFromText,
		z
			.number({ invalid_type_error: 'Timeout must be a number of seconds' })
			.finite('Timeout must be a number of seconds')
			.positive('Timeout must be a number of seconds above 0')
			.default(600),
	),
	parallelItems: parallelItemsSchema,
	/** Which output files the job delivers and records (selectOutputFiles). */
	outputs: outputSelection,
	userId: optionalText('The user ID', 200),
	campaignId: uuid('The campaign ID'),
	variantId: uuid('The variant ID'),
	galleryId: optionalText('The gallery ID', 200),
	/** Most jobs of `userId` queued or running at once (lib/generation/quota.ts); needs the database. */
	maxJobsInFlightPerUser: perUserLimit('The limit of jobs in flight per user'),
	/** Most jobs of `userId` started per UTC day (lib/generation/quota.ts); needs the database. */
	maxJobsPerDayPerUser: perUserLimit('The limit of jobs per day per user'),
};

const PER_USER_LIMITS = ['maxJobsInFlightPerUser', 'maxJobsPerDayPerUser'] as const;

export const generateInput = defineInput(
	z.discriminatedUnion('source', [
		z.object({
			source: z.literal('template'),
			template: templateRefSchema,
			...versionSelectorSchema,
			values: valuesSchema,
			...jobFields,
		}),
		z.object({
			source: z.literal('workflow'),
			/** ComfyUI API format, as an object or JSON text (checked by ensureApiWorkflow, which names `workflow`). */
			workflow: z.unknown().refine((value) => !isBlank(value), {
				message: 'The workflow is empty: paste the JSON that ComfyUI saves with Workflow → Export (API)',
				...issueCode('field_required'),
			}),
			...jobFields,
		}),
	]).superRefine((request, ctx) => {
		// A limit counts the jobs of one user: without a user id there is nobody to count against.
		const limit = PER_USER_LIMITS.find((name) => request[name] !== undefined);
		if (limit !== undefined && request.userId === undefined) {
			ctx.addIssue({
				code: 'custom',
				path: ['userId'],
				message: `A per-user job limit (${limit}) is set, but the job has no user ID to count it against`,
				...issueCode('field_required'),
			});
		}
	}),
);

export type GenerateInput = z.input<typeof generateInput.schema>;
export type GenerateRequest = z.output<typeof generateInput.schema>;

/** The tracking fields a job carries (stored with the execution, passed on in the output). */
export type Tracking = Pick<GenerateRequest, 'userId' | 'campaignId' | 'variantId' | 'galleryId'>;

export function trackingOf(request: GenerateRequest): Tracking {
	const tracking: Tracking = {};
	for (const key of ['userId', 'campaignId', 'variantId', 'galleryId'] as const) {
		if (request[key] !== undefined) tracking[key] = request[key];
	}
	return tracking;
}

const promptIdSchema = required(z.preprocess(textFromNumber, text({ label: 'The prompt ID', max: 200 }).optional()), 'The prompt ID is empty');

export const cancelInput = defineInput(z.object({ promptId: promptIdSchema }));
export type CancelInput = z.input<typeof cancelInput.schema>;

export const getResultInput = defineInput(
	z.discriminatedUnion('lookupBy', [
		z.object({
			lookupBy: z.literal('executionId'),
			executionId: required(uuid('The execution ID'), 'The execution ID is empty'),
			galleryId: optionalText('The gallery ID', 200),
			outputs: outputSelection,
		}),
		z.object({ lookupBy: z.literal('promptId'), promptId: promptIdSchema, galleryId: optionalText('The gallery ID', 200), outputs: outputSelection }),
	]),
);
export type GetResultInput = z.input<typeof getResultInput.schema>;
