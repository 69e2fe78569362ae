import type { IDataObject } from 'n8n-workflow';

import type { RecordFeedbackResult, TemplateStats } from '../../../lib/feedback';

/** Display names of parameters by input-schema field, so n8n errors name the parameter to fix. */
export const FIELD_LABELS: Record<string, string> = {
	findBy: 'Find Execution By',
	executionId: 'Execution ID',
	promptId: 'ComfyUI Prompt ID',
	rating: 'Rating',
	userId: 'User ID',
	comment: 'Comment',
	source: 'Source',
	idempotencyKey: 'Idempotency Key',
	asyncCommit: 'Asynchronous Commit',
	template: 'Template',
	version: 'Version',
	label: 'Label',
	scope: 'Stats For',
	status: 'Status',
	output: 'Output Text',
	errorMessage: 'Error Message',
	durationMs: 'Duration (Ms)',
	campaignId: 'Campaign ID',
	variantId: 'Variant ID',
	renderedPrompt: 'Prompt Sent',
};

export function statsToJson(stats: TemplateStats | null): IDataObject | null {
	return stats ? ({ ...stats } as unknown as IDataObject) : null;
}

/** Record output: the stored feedback, flat, with the duplicate/replaced flags and the version's new stats. */
export function feedbackResultToJson(result: RecordFeedbackResult): IDataObject {
	return {
		...(result.feedback as unknown as IDataObject),
		duplicate: result.duplicate,
		replaced: result.replaced,
		previousRating: result.previousRating,
		stats: statsToJson(result.stats),
	};
}
