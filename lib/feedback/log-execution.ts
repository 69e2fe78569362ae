/**
 * Log an execution that did not go through ComfyUI (an OpenAI or Ollama node's text rendered from
 * a text template), so it can be rated and counted like a ComfyUI run. Idempotent on executionId.
 */
import type { Pool } from 'pg';
import { z } from 'zod';

import { logExternalExecution, UUID_PATTERN, type Execution } from '../db/executions';
import { getTemplate, resolveVersion, type TemplateKind } from '../db/templates';
import { templateRefSchema, versionSelectorShape } from '../templates/inputs';
import { defineInput, issueCode, text } from '../validation';

/** An optional UUID: blank is absent. */
const optionalUuid = (label: string) =>
	z.preprocess(
		(v) => (typeof v === 'string' ? v.trim() || undefined : v),
		text({ label })
			.refine((v) => UUID_PATTERN.test(v), { message: `${label} must be a UUID`, ...issueCode('invalid_input') })
			.optional(),
	);

export const logExecutionSchema = z.object({
	template: templateRefSchema,
	/** Which version ran: `label` (default production) or number `version`; with a variantId the variant's version. */
	...versionSelectorShape,
	status: z.enum(['succeeded', 'failed', 'cancelled'], { errorMap: () => ({ message: 'Status must be succeeded, failed or cancelled' }) }),
	/** What the model produced. */
	output: text({ label: 'Output text' }).optional(),
	/** Why the run failed (status failed); the weekly report groups failures by it. */
	errorMessage: text({ label: 'Error message', max: 10_000 }).optional(),
	/** The end user the output was made for (the unit of a campaign). */
	userId: z.preprocess((v) => (typeof v === 'string' ? v.trim() : v), text({ label: 'User ID', max: 256 }).optional()),
	campaignId: optionalUuid('Campaign ID'),
	variantId: optionalUuid('Variant ID'),
	/** Stores the run under this id; the same id again returns the stored run. */
	executionId: optionalUuid('Execution ID'),
	durationMs: z.coerce
		.number({ invalid_type_error: 'Duration must be a number of milliseconds' })
		.min(0, 'Duration must be 0 or more milliseconds')
		.max(2_147_483_647, 'Duration is too long')
		.optional(),
	/** The rendered prompt given to the model. */
	renderedPrompt: text({ label: 'Prompt sent' }).optional(),
	n8nExecutionId: z.string().optional(),
});

export const logExecutionInput = defineInput(logExecutionSchema);

export type LogExecutionInput = z.input<typeof logExecutionSchema>;

export interface LogExecutionResult {
	execution: Execution;
	/** The execution id was logged before: nothing changed. */
	alreadyLogged: boolean;
	template: { id: string; name: string; kind: TemplateKind };
	resolvedBy: 'version' | 'label' | 'latest' | 'variant';
}

export async function logExecution(pool: Pool, input: LogExecutionInput): Promise<LogExecutionResult> {
	const p = logExecutionInput.parse(input);
	const template = await getTemplate(pool, p.template);
	// With a campaign variant the version is the variant's (what the user was assigned); otherwise the selection.
	const resolved = p.variantId ? undefined : await resolveVersion(pool, template, { label: p.label, version: p.version });
	const { execution, alreadyFinished } = await logExternalExecution(pool, {
		id: p.executionId,
		templateId: template.id,
		versionId: resolved?.version.id,
		campaignId: p.campaignId,
		variantId: p.variantId,
		userId: p.userId || null,
		status: p.status,
		output: p.output ? p.output : undefined,
		error: p.status === 'failed' ? { message: p.errorMessage?.trim() || 'failed' } : undefined,
		durationMs: p.durationMs,
		renderedPrompt: p.renderedPrompt ? { positive: p.renderedPrompt, negative: '' } : undefined,
		n8nExecutionId: p.n8nExecutionId,
	});
	return {
		execution,
		alreadyLogged: alreadyFinished,
		template: { id: template.id, name: template.name, kind: template.kind },
		resolvedBy: resolved?.resolvedBy ?? 'variant',
	};
}
