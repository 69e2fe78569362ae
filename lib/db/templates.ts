/**
 * Templates repository: templates, immutable versions, movable labels with history.
 * SQL only: its input is validated by the use cases in lib/templates (manage.ts, inputs.ts); every
 * value is a $n parameter; sort fields come from a whitelist. Errors are the states only the
 * database knows: not found, name taken, archived, a label that never moved.
 */
import type { Pool, PoolClient } from 'pg';

import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { DEFAULT_LABEL } from '../templates/inputs';
import type {
	TemplateKind,
	TemplateRef,
	TemplateSortField,
	NewVersionContent,
	VersionSelector,
} from '../templates/inputs';
import type { VariableDefinition } from '../templates/variables';
import type { ApiWorkflow } from '../templates/workflow';
import { withTransaction, type Queryable } from './pool';

// The input vocabulary callers of the repository share (campaign promotion moves `production`).
export type { TemplateKind, TemplateRef, TemplateSortField, VersionSelector };
export { DEFAULT_LABEL };
export { LABEL_PATTERN } from '../templates/inputs';

export interface Template {
	id: string;
	name: string;
	kind: TemplateKind;
	category: string | null;
	tags: string[];
	description: string;
	latestVersion: number;
	labels: Record<string, number>; // label → version number
	archived: boolean;
	archivedAt: string | null;
	createdAt: string;
	updatedAt: string;
}

/** A stored version: its content plus identity and time. */
export interface TemplateVersion extends NewVersionContent {
	id: string; // bigint as string
	templateId: string;
	version: number;
	createdAt: string;
}

/** A new template row with its first version, already validated (createTemplateInput). */
export interface NewTemplate {
	name: string;
	kind: TemplateKind;
	category: string | null;
	tags: string[];
	description: string;
	firstVersion: NewVersionContent;
	/** Labels pointed at the first version. */
	labels: string[];
}

interface TemplateRow {
	id: string;
	name: string;
	kind: TemplateKind;
	category: string | null;
	tags: string[];
	description: string;
	latest_version: number;
	archived_at: Date | null;
	created_at: Date;
	updated_at: Date;
	labels: Record<string, number> | null;
	total?: string;
}

interface VersionRow {
	id: string;
	template_id: string;
	version: number;
	positive_prompt: string;
	negative_prompt: string;
	workflow: ApiWorkflow | null;
	workflow_checksum: string | null;
	variables: VariableDefinition[];
	default_params: Record<string, unknown>;
	commit_message: string;
	author: string | null;
	created_at: Date;
}

const TEMPLATE_COLUMNS = `t.id, t.name, t.kind, t.category, t.tags, t.description, t.latest_version, t.archived_at,
	t.created_at, t.updated_at,
	(SELECT jsonb_object_agg(l.label, v.version) FROM template_labels l JOIN template_versions v ON v.id = l.version_id
	 WHERE l.template_id = t.id) AS labels`;

function toTemplate(row: TemplateRow): Template {
	return {
		id: row.id,
		name: row.name,
		kind: row.kind,
		category: row.category,
		tags: row.tags,
		description: row.description,
		latestVersion: row.latest_version,
		labels: row.labels ?? {},
		archived: row.archived_at !== null,
		archivedAt: row.archived_at ? row.archived_at.toISOString() : null,
		createdAt: row.created_at.toISOString(),
		updatedAt: row.updated_at.toISOString(),
	};
}

function toVersion(row: VersionRow): TemplateVersion {
	return {
		id: String(row.id),
		templateId: row.template_id,
		version: row.version,
		positivePrompt: row.positive_prompt,
		negativePrompt: row.negative_prompt,
		workflow: row.workflow,
		workflowChecksum: row.workflow_checksum,
		variables: row.variables,
		defaultParams: row.default_params,
		commitMessage: row.commit_message,
		author: row.author,
		createdAt: row.created_at.toISOString(),
	};
}

/** Inserts the next version of a template (locks the template row: concurrent creators get consecutive numbers). */
async function insertVersionRow(client: PoolClient, template: { id: string; name: string }, v: NewVersionContent): Promise<TemplateVersion> {
	const bumped = await client.query<{ latest_version: number }>(
		`UPDATE templates SET latest_version = latest_version + 1, updated_at = now()
		 WHERE id = $1 AND archived_at IS NULL RETURNING latest_version`,
		[template.id],
	);
	if (bumped.rowCount === 0) {
		// Not found was ruled out by the caller's getTemplate in this transaction: it was archived.
		throw new ConflictError('template_archived', `Template "${template.name}" is archived; unarchive it before adding versions`, {
			field: 'template',
			hint: 'Unarchive the template, then add the version',
		});
	}
	const { rows } = await client.query<VersionRow>(
		`INSERT INTO template_versions (template_id, version, positive_prompt, negative_prompt, workflow, workflow_checksum,
			variables, default_params, commit_message, author)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
		[
			template.id,
			bumped.rows[0].latest_version,
			v.positivePrompt,
			v.negativePrompt,
			v.workflow === null ? null : JSON.stringify(v.workflow),
			v.workflowChecksum,
			JSON.stringify(v.variables),
			JSON.stringify(v.defaultParams),
			v.commitMessage,
			v.author,
		],
	);
	return toVersion(rows[0]);
}

async function moveLabel(
	client: PoolClient,
	templateId: string,
	label: string,
	target: { id: string; version: number },
	movedBy: string | null,
	reason: string | null,
): Promise<{ from: number | null; to: number }> {
	const current = await client.query<{ version: number }>(
		`SELECT v.version FROM template_labels l JOIN template_versions v ON v.id = l.version_id
		 WHERE l.template_id = $1 AND l.label = $2 FOR UPDATE OF l`,
		[templateId, label],
	);
	const from = current.rows[0]?.version ?? null;
	await client.query(
		`INSERT INTO template_labels (template_id, label, version_id, updated_by, updated_at)
		 VALUES ($1, $2, $3, $4, now())
		 ON CONFLICT (template_id, label) DO UPDATE SET version_id = EXCLUDED.version_id,
			updated_by = EXCLUDED.updated_by, updated_at = now()`,
		[templateId, label, target.id, movedBy],
	);
	await client.query(
		`INSERT INTO template_label_history (template_id, label, from_version, to_version, moved_by, reason)
		 VALUES ($1, $2, $3, $4, $5, $6)`,
		[templateId, label, from, target.version, movedBy, reason],
	);
	return { from, to: target.version };
}

function uniqueViolation(error: unknown, constraint: string): boolean {
	const e = error as { code?: string; constraint?: string };
	return e?.code === '23505' && e.constraint === constraint;
}

/** Inserts a template, its version 1 and its labels in one transaction. */
export async function insertTemplate(pool: Pool, input: NewTemplate): Promise<{ template: Template; version: TemplateVersion }> {
	try {
		return await withTransaction(pool, async (client) => {
			const { rows } = await client.query<{ id: string }>(
				`INSERT INTO templates (name, kind, category, tags, description) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
				[input.name, input.kind, input.category, input.tags, input.description],
			);
			const created = { id: rows[0].id, name: input.name };
			const version = await insertVersionRow(client, created, input.firstVersion);
			for (const label of input.labels) {
				await moveLabel(client, created.id, label, version, input.firstVersion.author, 'first version');
			}
			const template = await getTemplate(client, { id: created.id });
			return { template, version };
		});
	} catch (error) {
		if (uniqueViolation(error, 'templates_name_key')) {
			throw new ConflictError('template_name_taken', `A template named "${input.name}" already exists`, {
				field: 'name',
				hint: 'Choose another name, or add a version to the existing template',
				cause: error,
			});
		}
		throw error;
	}
}

/** Inserts the next version of a template and moves `labels` to it, in one transaction. */
export async function insertVersion(
	pool: Pool,
	ref: TemplateRef,
	content: NewVersionContent,
	labels: readonly string[] = [],
): Promise<{ template: Template; version: TemplateVersion }> {
	return withTransaction(pool, async (client) => {
		const template = await getTemplate(client, ref);
		const version = await insertVersionRow(client, template, content);
		for (const label of labels) {
			await moveLabel(client, template.id, label, version, content.author, `version ${version.version} created`);
		}
		return { template: await getTemplate(client, { id: template.id }), version };
	});
}

export async function getTemplate(db: Queryable, ref: TemplateRef): Promise<Template> {
	const byId = 'id' in ref;
	if (byId && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref.id)) {
		// Not a UUID cannot name a template: the same answer as an unknown one (and no Postgres cast error).
		throw new NotFoundError('template_not_found', `"${ref.id}" is not a template ID (expected a UUID)`, {
			field: 'template',
			hint: 'Pick the template from the list, or give its name',
			details: { templateId: ref.id },
		});
	}
	const { rows } = await db.query<TemplateRow>(
		`SELECT ${TEMPLATE_COLUMNS} FROM templates t WHERE ${byId ? 't.id = $1' : 'lower(t.name) = lower($1)'}`,
		[byId ? ref.id : ref.name.trim()],
	);
	if (rows.length === 0) {
		throw new NotFoundError('template_not_found', `Template ${byId ? `with ID ${ref.id}` : `"${ref.name}"`} not found`, {
			field: 'template',
			details: byId ? { templateId: ref.id } : { templateName: ref.name },
		});
	}
	return toTemplate(rows[0]);
}

/**
 * A version by number, or by label. The default label `production` falls back to the newest
 * version while a template has no production label yet; any other missing label is an error that
 * lists the labels the template has.
 */
export async function resolveVersion(
	db: Queryable,
	template: Template,
	selector: VersionSelector = {},
): Promise<{ version: TemplateVersion; resolvedBy: 'version' | 'label' | 'latest' }> {
	if (selector.version !== undefined) {
		const { rows } = await db.query<VersionRow>(
			'SELECT * FROM template_versions WHERE template_id = $1 AND version = $2',
			[template.id, selector.version],
		);
		if (rows.length === 0) {
			throw new NotFoundError(
				'version_not_found',
				`Template "${template.name}" has no version ${selector.version} (versions 1..${template.latestVersion})`,
				{ field: 'version', details: { version: selector.version, latestVersion: template.latestVersion } },
			);
		}
		return { version: toVersion(rows[0]), resolvedBy: 'version' };
	}
	const label = selector.label?.trim() || DEFAULT_LABEL;
	const { rows } = await db.query<VersionRow>(
		`SELECT v.* FROM template_labels l JOIN template_versions v ON v.id = l.version_id
		 WHERE l.template_id = $1 AND l.label = $2`,
		[template.id, label],
	);
	if (rows.length > 0) return { version: toVersion(rows[0]), resolvedBy: 'label' };
	if (label !== DEFAULT_LABEL) {
		const known = Object.keys(template.labels).sort();
		throw new NotFoundError(
			'label_not_found',
			`Template "${template.name}" has no label "${label}"` +
				(known.length ? ` (labels: ${known.join(', ')})` : ' (it has no labels yet)'),
			{ field: 'label', details: { label, labels: known } },
		);
	}
	const latest = await db.query<VersionRow>(
		'SELECT * FROM template_versions WHERE template_id = $1 ORDER BY version DESC LIMIT 1',
		[template.id],
	);
	// Every template is created with version 1 in one transaction, so this means the row vanished meanwhile.
	if (latest.rows.length === 0) {
		throw new NotFoundError('version_not_found', `Template "${template.name}" has no versions`, { field: 'template' });
	}
	return { version: toVersion(latest.rows[0]), resolvedBy: 'latest' };
}

export async function listVersions(
	db: Queryable,
	template: Template,
	page: { limit: number; offset: number },
): Promise<TemplateVersion[]> {
	const { rows } = await db.query<VersionRow>(
		'SELECT * FROM template_versions WHERE template_id = $1 ORDER BY version DESC LIMIT $2 OFFSET $3',
		[template.id, page.limit, page.offset],
	);
	return rows.map(toVersion);
}

/** Whitelisted sort fields: input name → SQL expression. Nothing else reaches ORDER BY. */
const SORT_SQL: Readonly<Record<TemplateSortField, string>> = {
	name: 'lower(t.name)',
	createdAt: 't.created_at',
	updatedAt: 't.updated_at',
	category: 't.category',
	latestVersion: 't.latest_version',
};

/** Filters as the findTemplates use case has normalised them (trimmed, tags lower-case). */
export interface TemplateFilters {
	category?: string;
	kind?: TemplateKind;
	tagsAny?: string[];
	tagsAll?: string[];
	search?: string;
	includeArchived?: boolean;
	sortBy?: TemplateSortField;
	sortOrder?: 'asc' | 'desc';
	limit: number;
	offset?: number;
}

function escapeLike(text: string): string {
	return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export async function listTemplates(
	db: Queryable,
	filters: TemplateFilters,
): Promise<{ items: Template[]; total: number; nextOffset: number | null }> {
	const where: string[] = [];
	const values: unknown[] = [];
	const param = (value: unknown) => {
		values.push(value);
		return `$${values.length}`;
	};
	if (!filters.includeArchived) where.push('t.archived_at IS NULL');
	if (filters.category) where.push(`lower(t.category) = lower(${param(filters.category)})`);
	if (filters.kind) where.push(`t.kind = ${param(filters.kind)}`);
	if (filters.tagsAny?.length) where.push(`t.tags && ${param(filters.tagsAny)}::text[]`);
	if (filters.tagsAll?.length) where.push(`t.tags @> ${param(filters.tagsAll)}::text[]`);
	if (filters.search) {
		const p = param(`%${escapeLike(filters.search)}%`);
		where.push(`(t.name ILIKE ${p} OR t.description ILIKE ${p})`);
	}
	// The input schema allows only these names; the lookup is what keeps anything else out of the SQL.
	const sortField = Object.prototype.hasOwnProperty.call(SORT_SQL, filters.sortBy ?? 'name') ? SORT_SQL[filters.sortBy ?? 'name'] : undefined;
	if (!sortField) {
		throw new ValidationError('invalid_input', `Unknown sort field "${String(filters.sortBy)}"`, { field: 'sortBy' });
	}
	const order = filters.sortOrder === 'desc' ? 'DESC' : 'ASC';
	const offset = filters.offset ?? 0;
	const sql = `SELECT ${TEMPLATE_COLUMNS}, count(*) OVER () AS total FROM templates t
		${where.length ? `WHERE ${where.join(' AND ')}` : ''}
		ORDER BY ${sortField} ${order} NULLS LAST, t.id
		LIMIT ${param(filters.limit)} OFFSET ${param(offset)}`;
	const { rows } = await db.query<TemplateRow>(sql, values);
	const total = rows.length ? Number(rows[0].total) : 0;
	return {
		items: rows.map(toTemplate),
		total,
		nextOffset: offset + rows.length < total ? offset + rows.length : null,
	};
}

export async function setArchived(db: Queryable, ref: TemplateRef, archived: boolean): Promise<Template> {
	const template = await getTemplate(db, ref);
	await db.query(
		`UPDATE templates SET archived_at = CASE WHEN $2 THEN coalesce(archived_at, now()) ELSE NULL END, updated_at = now()
		 WHERE id = $1`,
		[template.id, archived],
	);
	return getTemplate(db, { id: template.id });
}

export interface LabelMove {
	template: Template;
	label: string;
	fromVersion: number | null;
	toVersion: number;
}

export async function setLabel(
	pool: Pool,
	ref: TemplateRef,
	label: string,
	version: number,
	options: { movedBy?: string | null; reason?: string | null } = {},
): Promise<LabelMove> {
	return withTransaction(pool, async (client) => {
		const template = await getTemplate(client, ref);
		const { version: target } = await resolveVersion(client, template, { version });
		const move = await moveLabel(client, template.id, label, target, options.movedBy ?? null, options.reason ?? null);
		return { template: await getTemplate(client, { id: template.id }), label, fromVersion: move.from, toVersion: move.to };
	});
}

/** Moves a label back to the version it pointed to before its last move (itself recorded in history). */
export async function rollbackLabel(
	pool: Pool,
	ref: TemplateRef,
	label: string,
	options: { movedBy?: string | null; reason?: string | null } = {},
): Promise<LabelMove> {
	return withTransaction(pool, async (client) => {
		const template = await getTemplate(client, ref);
		// Lock the label row first so two concurrent rollbacks do not both read the same history.
		await client.query('SELECT 1 FROM template_labels WHERE template_id = $1 AND label = $2 FOR UPDATE', [template.id, label]);
		const last = await client.query<{ from_version: number | null; to_version: number }>(
			`SELECT from_version, to_version FROM template_label_history WHERE template_id = $1 AND label = $2
			 ORDER BY id DESC LIMIT 1`,
			[template.id, label],
		);
		if (last.rows.length === 0) {
			throw new NotFoundError('label_not_found', `Template "${template.name}" has no label "${label}"`, {
				field: 'label',
				details: { label, labels: Object.keys(template.labels).sort() },
			});
		}
		const previous = last.rows[0].from_version;
		if (previous === null) {
			throw new ConflictError(
				'label_has_no_history',
				`Label "${label}" of "${template.name}" has never moved, so there is nothing to roll back to`,
				{ field: 'label', details: { label, version: last.rows[0].to_version } },
			);
		}
		const { version: target } = await resolveVersion(client, template, { version: previous });
		const move = await moveLabel(
			client,
			template.id,
			label,
			target,
			options.movedBy ?? null,
			options.reason ?? `rollback from version ${last.rows[0].to_version}`,
		);
		return { template: await getTemplate(client, { id: template.id }), label, fromVersion: move.from, toVersion: move.to };
	});
}

export interface LabelHistoryEntry {
	label: string;
	fromVersion: number | null;
	toVersion: number;
	movedBy: string | null;
	reason: string | null;
	movedAt: string;
}

export async function labelHistory(
	db: Queryable,
	template: Template,
	label: string | undefined,
	limit: number,
): Promise<LabelHistoryEntry[]> {
	const { rows } = await db.query<{
		label: string;
		from_version: number | null;
		to_version: number;
		moved_by: string | null;
		reason: string | null;
		moved_at: Date;
	}>(
		`SELECT label, from_version, to_version, moved_by, reason, moved_at FROM template_label_history
		 WHERE template_id = $1 AND ($2::text IS NULL OR label = $2) ORDER BY id DESC LIMIT $3`,
		[template.id, label?.trim() || null, limit],
	);
	return rows.map((r) => ({
		label: r.label,
		fromVersion: r.from_version,
		toVersion: r.to_version,
		movedBy: r.moved_by,
		reason: r.reason,
		movedAt: r.moved_at.toISOString(),
	}));
}

/** Distinct categories of non-archived templates, for the editor's dropdowns. */
export async function listCategories(db: Queryable): Promise<string[]> {
	const { rows } = await db.query<{ category: string }>(
		'SELECT DISTINCT category FROM templates WHERE category IS NOT NULL AND archived_at IS NULL ORDER BY category',
	);
	return rows.map((r) => r.category);
}
