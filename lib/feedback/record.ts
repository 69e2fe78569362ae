/**
 * Record a rating: the one input schema of Record Feedback (the node and the feedback webhook go
 * through it), and the use case around the repository's one-statement write.
 *
 * Semantics:
 * (a) an idempotency key seen before, for the same execution, user and rating → the stored
 *     feedback, nothing changes (duplicate: true); without a key, resending the same rating and
 *     comment is such a duplicate too;
 * (b) a key seen before for another execution, user or rating → idempotency_key_reused (409):
 *     the key names a different request;
 * (c) the same user on the same execution with a new key, or without a key but a different
 *     rating/comment → replaces the earlier rating, the aggregates move by the delta;
 * (d) otherwise a new rating.
 */
import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';

import { UUID_PATTERN } from '../db/executions';
import {
	findFeedback,
	findIdempotencyKey,
	getTemplateStats,
	writeFeedback,
	type Feedback,
	type FeedbackWrite,
	type Rating,
	type RecordFeedbackOptions,
	type TemplateStats,
} from '../db/feedback';
import { ConflictError, NotFoundError } from '../errors';
import { describeValue } from '../templates/describe';
import { defineInput, issueCode, textIssue } from '../validation';

export const MAX_COMMENT_LENGTH = 4000; // characters, as the CHECK on feedback.comment counts them
export const MAX_USER_ID_LENGTH = 256;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
export const MAX_SOURCE_LENGTH = 100;
export const MAX_PROMPT_ID_LENGTH = 200;

/** A whole number written the one way a person or a form writes it: no sign, no leading zero, no decimals, no spaces. */
const WHOLE_NUMBER_TEXT = /^(0|[1-9][0-9]*)$/;

type Problem = NonNullable<ReturnType<typeof textIssue>>;

/**
 * A rating is a whole number from 1 to 5: a JSON number, or (query strings and forms carry text)
 * a string of digits such as "4". Anything that is not plainly that number ("4.0", "+4", " 4 ",
 * 3.5, "four", true) is rating_invalid; a whole number outside 1–5 (0, 6, "9") is
 * rating_out_of_range; nothing at all is field_required.
 */
function ratingProblem(value: unknown): Problem | undefined {
	if (value === undefined || value === null || value === '') return { code: 'field_required', message: 'Rating is required (a whole number from 1 to 5)' };
	const number = typeof value === 'number' ? value : typeof value === 'string' && WHOLE_NUMBER_TEXT.test(value) ? Number(value) : NaN;
	const message = `Rating must be a whole number from 1 to 5 (got ${describeValue(value)})`;
	if (!Number.isInteger(number)) return { code: 'rating_invalid', message };
	if (number < 1 || number > 5) return { code: 'rating_out_of_range', message };
	return undefined;
}

const isBlank = (value: string | null | undefined) => value === undefined || value === null || value.trim() === '';

const TEXT_FIELDS = [
	['executionId', 'Execution ID', undefined],
	['promptId', 'ComfyUI prompt ID', MAX_PROMPT_ID_LENGTH],
	['comment', 'Comment', MAX_COMMENT_LENGTH],
	['userId', 'User ID', MAX_USER_ID_LENGTH],
	['source', 'Source', MAX_SOURCE_LENGTH],
	['idempotencyKey', 'Idempotency key', MAX_IDEMPOTENCY_KEY_LENGTH],
] as const;

const optionalString = (label: string) => z.string({ invalid_type_error: `${label} must be text` }).nullish();

/*
 * Speed: this runs on every write (~2000/s). Every zod effect layer (text()'s superRefine, a
 * preprocess, a transform) costs microseconds, so the fields are plain zod types and ONE
 * refinement applies the same checks as text() (textIssue: NUL/surrogates/U+FFFD, code-point limits → invalid_text,
 * text_too_long), the rating rule and the cross-field rules: ~4× faster than a text() per field.
 * Limits apply to the text as sent; parseFeedbackInput trims.
 */
export const recordFeedbackSchema = z
	.object({
		/** Our execution id (UUID); or give promptId. */
		executionId: optionalString('Execution ID'),
		/** The ComfyUI prompt id of the execution. */
		promptId: optionalString('ComfyUI prompt ID'),
		/** A whole number from 1 to 5, or a string of digits ("4"); see ratingProblem. */
		rating: z.unknown(),
		comment: optionalString('Comment'),
		/** Who rates; a number is taken as its decimal text. */
		userId: z.unknown(),
		/** Where the rating came from (webhook, slack, ...). */
		source: optionalString('Source'),
		/** Retries with the same key count once; defaults to `${executionId}:${userId}` (latest content wins). */
		idempotencyKey: optionalString('Idempotency key'),
	})
	.superRefine((v, ctx) => {
		const issue = (field: string, problem: Problem) => ctx.addIssue({ code: 'custom', path: [field], message: problem.message, ...issueCode(problem.code) });
		for (const [field, label, max] of TEXT_FIELDS) {
			const value: unknown = v[field];
			const problem = typeof value === 'string' ? textIssue(value, label, max) : undefined;
			if (problem) issue(field, problem);
		}
		const rating = ratingProblem(v.rating);
		if (rating) issue('rating', rating);
		if (typeof v.userId === 'number') {
			if (!Number.isFinite(v.userId)) issue('userId', { code: 'invalid_input', message: 'User ID must be text' });
		} else if (v.userId === undefined || v.userId === null || (typeof v.userId === 'string' && v.userId.trim() === '')) {
			issue('userId', { code: 'field_required', message: 'User ID is required' });
		} else if (typeof v.userId !== 'string') {
			issue('userId', { code: 'invalid_input', message: 'User ID must be text' });
		}
		if (!isBlank(v.executionId)) {
			if (!UUID_PATTERN.test((v.executionId as string).trim())) {
				issue('executionId', {
					code: 'invalid_input',
					message: 'Execution ID must be the UUID of an execution (as returned by Log Execution or ComfyUI Execute)',
				});
			}
		} else if (isBlank(v.promptId)) {
			// A (blank) prompt id without an execution id: the caller chose to look up by prompt id.
			const byPrompt = typeof v.promptId === 'string' && (v.executionId === undefined || v.executionId === null);
			issue(byPrompt ? 'promptId' : 'executionId', {
				code: 'field_required',
				message: byPrompt ? 'A ComfyUI prompt ID is required' : 'An execution ID or a ComfyUI prompt ID is required',
			});
		}
	});

export const recordFeedbackInput = defineInput(recordFeedbackSchema, {
	executionId: 'invalid_input',
	promptId: 'invalid_input',
	comment: 'invalid_input',
	userId: 'invalid_input',
	source: 'invalid_input',
	idempotencyKey: 'invalid_input',
});

/** What callers pass (a webhook body, node parameters): validated by recordFeedbackInput. */
export type RecordFeedbackInput = z.input<typeof recordFeedbackSchema>;

/** Validates a feedback request into what the repository writes; throws a ValidationError naming the field. */
export function parseFeedbackInput(input: unknown): FeedbackWrite {
	const v = recordFeedbackInput.parse(input);
	const trimmedOrNull = (value: string | null | undefined) => (isBlank(value) ? null : (value as string).trim());
	return {
		executionId: isBlank(v.executionId) ? null : (v.executionId as string).trim().toLowerCase(),
		promptId: trimmedOrNull(v.promptId),
		rating: Number(v.rating) as Rating, // checked by ratingProblem
		comment: isBlank(v.comment) ? null : (v.comment as string), // kept as written: line breaks and indentation are the user's
		userId: String(v.userId).trim(),
		source: trimmedOrNull(v.source),
		idempotencyKey: trimmedOrNull(v.idempotencyKey),
	};
}

export interface RecordFeedbackResult {
	/** The stored feedback (for a duplicate: as it is stored now). */
	feedback: Feedback;
	/** The idempotency key (or the same content without a key) was seen before: nothing changed. */
	duplicate: boolean;
	/** An earlier rating of the same user on the same execution was replaced. */
	replaced: boolean;
	/** The replaced rating, when replaced. */
	previousRating: Rating | null;
	/** The version's aggregates after this write; null when the execution has no template version. */
	stats: TemplateStats | null;
	/**
	 * The execution belongs to a completed campaign: its results are final, so the rating counts
	 * for the template version only (lib/db/feedback.ts).
	 */
	campaignFrozen: boolean;
}

export type { RecordFeedbackOptions };

/**
 * Records a rating (semantics at the top of the file). `db` is a Pool or a client: the write is
 * one statement, so it needs no transaction of its own.
 */
export async function recordFeedback(
	db: Pool | PoolClient,
	input: RecordFeedbackInput | unknown,
	options: RecordFeedbackOptions = {},
): Promise<RecordFeedbackResult> {
	const write = parseFeedbackInput(input);
	const written = await writeFeedback(db, write, options);
	if (written.executionId === null) {
		throw write.executionId
			? new NotFoundError('execution_not_found', `Execution ${write.executionId} not found`, {
					field: 'executionId',
					hint: 'Use the executionId returned by ComfyUI Execute or Log Execution',
				})
			: new NotFoundError('execution_not_found', `No execution with ComfyUI prompt ID ${write.promptId ?? ''}`, {
					field: 'promptId',
					hint: 'Only prompts submitted through ComfyUI Execute are known',
				});
	}
	if (written.feedback) {
		return {
			feedback: written.feedback,
			duplicate: false,
			replaced: written.previousRating !== null,
			previousRating: written.previousRating,
			stats: written.stats,
			campaignFrozen: written.campaignFrozen,
		};
	}
	// Nothing written: a retry. Read what is stored (a fresh statement sees the winner's commit).
	const stored = await storedDuplicate(db, written.executionId, write);
	return {
		feedback: stored,
		duplicate: true,
		replaced: false,
		previousRating: null,
		stats: written.versionId === null ? null : await getTemplateStats(db, { versionId: written.versionId }),
		campaignFrozen: written.campaignFrozen,
	};
}

function keyReused(key: string, message: string): ConflictError {
	return new ConflictError('idempotency_key_reused', message, {
		field: 'idempotencyKey',
		hint: 'An idempotency key stands for one rating request: send a new key for a new rating',
		details: { idempotencyKey: key },
	});
}

async function storedDuplicate(db: Pool | PoolClient, executionId: string, write: FeedbackWrite): Promise<Feedback> {
	if (write.idempotencyKey) {
		const use = await findIdempotencyKey(db, write.idempotencyKey);
		if (use && (use.executionId !== executionId || use.userId !== write.userId)) {
			throw keyReused(
				write.idempotencyKey,
				`Idempotency key "${write.idempotencyKey}" was already used for feedback by user ${use.userId} on execution ${use.executionId}`,
			);
		}
		if (use && use.rating !== write.rating) {
			throw keyReused(
				write.idempotencyKey,
				`Idempotency key "${write.idempotencyKey}" was already used for a rating of ${use.rating}, not ${write.rating}`,
			);
		}
	}
	const stored = await findFeedback(db, executionId, write.userId);
	if (!stored) {
		// Only possible if the feedback was deleted after its key was recorded.
		throw keyReused(write.idempotencyKey ?? '', `Idempotency key "${write.idempotencyKey ?? ''}" was used before, but its feedback no longer exists; send a new key`);
	}
	return stored;
}
