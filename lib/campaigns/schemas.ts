/**
 * Schema parts the campaign use cases share: how a campaign is referred to, and trimmed text. Every text goes through lib/validation's text(), so NUL, lone surrogates and
 * U+FFFD are refused with invalid_text naming the field.
 */
import { z } from 'zod';

import type { CampaignRef } from '../db/campaigns';
import { issueCode, text } from '../validation';

/** Campaign names: as long as the campaigns.name CHECK allows. */
export const CAMPAIGN_NAME_MAX = 200;

/** Text without surrounding blanks that must not be empty (field_required when it is). */
export function requiredText(options: { max: number; label: string }) {
	return text(options)
		.transform((value) => value.trim())
		.refine((value) => value.length > 0, { message: `${options.label} is required`, ...issueCode('field_required') });
}

/** Text without surrounding blanks; empty when only blanks were given. */
export function trimmedText(options: { max: number; label: string }) {
	return text(options).transform((value) => value.trim());
}

/**
 * `{ id }` or `{ name }`, as the campaign picker gives it (the same shape as templateRefSchema).
 * Whether the ID exists, and is a UUID at all, is the repository's answer: campaign_not_found,
 * like any unknown campaign.
 */
export const campaignRef = z
	.object({
		id: trimmedText({ max: 200, label: 'The campaign ID' }).optional(),
		name: trimmedText({ max: CAMPAIGN_NAME_MAX, label: 'The campaign name' }).optional(),
	})
	.strict()
	.transform((ref, ctx): CampaignRef => {
		if (ref.id) return { id: ref.id };
		if (ref.name) return { name: ref.name };
		ctx.addIssue({ code: 'custom', message: 'No campaign given: pick one from the list, or give its name or ID', ...issueCode('field_required') });
		return z.NEVER;
	});
