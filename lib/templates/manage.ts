/**
 * Template use cases: what the Prompt Template node (and scripts, tests, later endpoints) call
 * with plain input. Each validates its input once with its schema from inputs.ts, then calls the
 * SQL repository (lib/db/templates.ts), and returns typed results; presentation is the caller's.
 */
import type { Pool } from 'pg';

import type { Queryable } from '../db/pool';
import { isPromptLabError, NotFoundError } from '../errors';
import {
	getTemplate,
	insertTemplate,
	insertVersion,
	labelHistory,
	listTemplates,
	listVersions,
	resolveVersion,
	rollbackLabel,
	setArchived,
	setLabel,
	type LabelHistoryEntry,
	type LabelMove,
	type Template,
	type TemplateVersion,
} from '../db/templates';
import { diffVersions, type VersionDiff } from './diff';
import {
	archiveTemplateInput,
	checkContentForKind,
	createTemplateInput,
	createVersionInput,
	diffTemplateVersionsInput,
	findTemplatesInput,
	getLabelHistoryInput,
	getTemplateVersionInput,
	listTemplateVersionsInput,
	rollbackTemplateLabelInput,
	setTemplateLabelInput,
	type ArchiveTemplateInput,
	type CreateTemplateInput,
	type CreateVersionInput,
	type DiffTemplateVersionsInput,
	type FindTemplatesInput,
	type GetLabelHistoryInput,
	type GetTemplateVersionInput,
	type ListTemplateVersionsInput,
	type RollbackTemplateLabelInput,
	type SetTemplateLabelInput,
	type TemplateRef,
	type VersionContentInput,
} from './inputs';

export type { LabelHistoryEntry, LabelMove, Template, TemplateVersion };

export interface TemplateWithVersion {
	template: Template;
	version: TemplateVersion;
}

/** Creates a template with its version 1 (labelled production unless other labels are given). */
export async function createTemplate(pool: Pool, input: CreateTemplateInput): Promise<TemplateWithVersion> {
	const { firstVersion, ...template } = createTemplateInput.parse(input);
	checkContentForKind(template.kind, firstVersion);
	return insertTemplate(pool, { ...template, firstVersion });
}

/**
 * Adds a version to a template and moves `labels` to it. Positional like the repository call it
 * replaces; validated as one CreateVersionInput (`template`, the content fields, `labels`).
 */
export async function createVersion(
	pool: Pool,
	template: TemplateRef,
	content: VersionContentInput,
	labels: readonly string[] = [],
): Promise<TemplateWithVersion> {
	const input: CreateVersionInput = { ...content, template, labels: [...labels] };
	const parsed = createVersionInput.parse(input);
	// The kind never changes, so checking it before the insert's transaction is safe.
	const current = await getTemplate(pool, parsed.template);
	checkContentForKind(current.kind, parsed.content);
	return insertVersion(pool, { id: current.id }, parsed.content, parsed.labels);
}

export interface ResolvedTemplateVersion extends TemplateWithVersion {
	/** How the version was found: its number, a label, or the newest version (no production label yet). */
	resolvedBy: 'version' | 'label' | 'latest';
}

/** A template at a label (default production, falling back to the newest version) or at a version number. */
export async function getTemplateVersion(db: Queryable, input: GetTemplateVersionInput): Promise<ResolvedTemplateVersion> {
	const { template: ref, ...selector } = getTemplateVersionInput.parse(input);
	const template = await getTemplate(db, ref);
	const { version, resolvedBy } = await resolveVersion(db, template, selector);
	return { template, version, resolvedBy };
}

/** Page size when every match is asked for (returnAll). */
const PAGE = 500;

/** Templates matching the filters: one page, or every page with returnAll. */
export async function findTemplates(
	db: Queryable,
	input: FindTemplatesInput,
): Promise<{ items: Template[]; total: number; nextOffset: number | null }> {
	const { returnAll, ...filters } = findTemplatesInput.parse(input);
	if (!returnAll) return listTemplates(db, filters);
	const items: Template[] = [];
	let offset: number | null = filters.offset;
	let total = 0;
	while (offset !== null) {
		const page = await listTemplates(db, { ...filters, limit: PAGE, offset });
		items.push(...page.items);
		total = page.total;
		offset = page.nextOffset;
	}
	return { items, total, nextOffset: null };
}

/** The versions of a template, newest first. */
export async function listTemplateVersions(
	db: Queryable,
	input: ListTemplateVersionsInput,
): Promise<{ template: Template; versions: TemplateVersion[] }> {
	const { template: ref, returnAll, limit } = listTemplateVersionsInput.parse(input);
	const template = await getTemplate(db, ref);
	const versions = await listVersions(db, template, { limit: returnAll ? Math.max(template.latestVersion, 1) : limit, offset: 0 });
	return { template, versions };
}

/** What changed from one version of a template to another. */
export async function diffTemplateVersions(
	db: Queryable,
	input: DiffTemplateVersionsInput,
): Promise<{ template: Template; diff: VersionDiff }> {
	const { template: ref, fromVersion, toVersion } = diffTemplateVersionsInput.parse(input);
	const template = await getTemplate(db, ref);
	const from = await versionAs(resolveVersion(db, template, { version: fromVersion }), 'fromVersion');
	const to = await versionAs(resolveVersion(db, template, { version: toVersion }), 'toVersion');
	return { template, diff: diffVersions(from.version, to.version) };
}

/** A missing version named by the input field that asked for it (the repository says `version`). */
async function versionAs<T>(lookup: Promise<T>, field: string): Promise<T> {
	try {
		return await lookup;
	} catch (error) {
		if (!isPromptLabError(error, 'version_not_found')) throw error;
		throw new NotFoundError('version_not_found', error.message, { field, hint: error.hint, details: error.details, cause: error });
	}
}

/** Points a label at a version; the move is recorded in the label history. */
export async function setTemplateLabel(pool: Pool, input: SetTemplateLabelInput): Promise<LabelMove> {
	const { template, label, version, movedBy, reason } = setTemplateLabelInput.parse(input);
	return setLabel(pool, template, label, version, { movedBy, reason });
}

/** Moves a label back to the version it pointed to before its last move. */
export async function rollbackTemplateLabel(pool: Pool, input: RollbackTemplateLabelInput): Promise<LabelMove> {
	const { template, label, movedBy, reason } = rollbackTemplateLabelInput.parse(input);
	return rollbackLabel(pool, template, label, { movedBy, reason });
}

/** Every move of a label (or of all labels of the template), newest first. */
export async function getLabelHistory(
	db: Queryable,
	input: GetLabelHistoryInput,
): Promise<{ template: Template; history: LabelHistoryEntry[] }> {
	const { template: ref, label, limit } = getLabelHistoryInput.parse(input);
	const template = await getTemplate(db, ref);
	return { template, history: await labelHistory(db, template, label, limit) };
}

/** Archives a template (its versions stay readable), or restores it. */
export async function archiveTemplate(db: Queryable, input: ArchiveTemplateInput): Promise<Template> {
	const { template, archived } = archiveTemplateInput.parse(input);
	return setArchived(db, template, archived);
}
