/**
 * Rating and run statistics of a template: one version (by label or number), or the totals over
 * all its versions. Reads the aggregates Record Feedback and ComfyUI Execute maintain.
 */
import { z } from 'zod';

import { getTemplateStats, type TemplateStats } from '../db/feedback';
import type { Queryable } from '../db/pool';
import { getTemplate, resolveVersion, type TemplateKind } from '../db/templates';
import { templateRefSchema, versionSelectorShape } from '../templates/inputs';
import { defineInput } from '../validation';

export const templateStatsSchema = z.object({
	template: templateRefSchema,
	/** 'version': the version at `label` (default production) or number `version`; 'template': totals over every version. */
	scope: z.enum(['version', 'template'], { errorMap: () => ({ message: 'Stats are for one version or for the template' }) }).default('version'),
	...versionSelectorShape,
});

export const templateStatsInput = defineInput(templateStatsSchema);

export type TemplateStatsInput = z.input<typeof templateStatsSchema>;

export interface TemplateStatsResult {
	template: { id: string; name: string; kind: TemplateKind };
	/** The version number; null for totals over all versions. */
	version: number | null;
	resolvedBy: 'version' | 'label' | 'latest' | 'allVersions';
	stats: TemplateStats;
}

export async function templateStats(db: Queryable, input: TemplateStatsInput): Promise<TemplateStatsResult> {
	const { template: ref, scope, ...selector } = templateStatsInput.parse(input);
	const template = await getTemplate(db, ref);
	const base = { id: template.id, name: template.name, kind: template.kind };
	if (scope === 'template') {
		return { template: base, version: null, resolvedBy: 'allVersions', stats: await getTemplateStats(db, { templateId: template.id }) };
	}
	const { version, resolvedBy } = await resolveVersion(db, template, selector);
	return { template: base, version: version.version, resolvedBy, stats: await getTemplateStats(db, { versionId: version.id }) };
}
