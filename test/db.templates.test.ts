import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Pool } from 'pg';

import { ConflictError, NotFoundError, PromptLabError, ValidationError } from '../lib/errors';
import { getPool } from '../lib/db/pool';
import { getTemplate, labelHistory, listTemplates, resolveVersion, type TemplateSortField } from '../lib/db/templates';
import {
	archiveTemplate,
	createTemplate,
	createVersion,
	diffTemplateVersions,
	findTemplates,
	getLabelHistory,
	getTemplateVersion,
	listTemplateVersions,
	rollbackTemplateLabel,
	setTemplateLabel,
} from '../lib/templates/manage';
import { createTestDatabase, type TestDatabase } from './support/database';

const apiWorkflow = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'txt2img.api.json'), 'utf8'));
const uiWorkflow = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'txt2img.ui.json'), 'utf8'));

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<PromptLabError> {
	const outcome = await promise.then(
		() => undefined,
		(error: unknown) => error,
	);
	expect(outcome).toBeInstanceOf(PromptLabError);
	return outcome as PromptLabError;
}

describe('templates use cases and repository (real Postgres)', () => {
	let db: TestDatabase;
	let pool: Pool;

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
	});
	afterAll(async () => {
		await db.drop();
	});

	async function counts() {
		const { rows } = await pool.query(
			`SELECT (SELECT count(*) FROM templates)::int AS templates, (SELECT count(*) FROM template_versions)::int AS versions,
			        (SELECT count(*) FROM template_label_history)::int AS moves`,
		);
		return rows[0] as { templates: number; versions: number; moves: number };
	}

	test('create stores version 1, labels it production and computes the workflow checksum', async () => {
		const { template, version } = await createTemplate(pool, {
			name: ' Product Hero ',
			kind: 'image',
			category: 'product',
			tags: ['Hero', 'studio', 'hero', ' '],
			description: 'hero shots',
			firstVersion: {
				positivePrompt: 'photo of {{product}}',
				workflow: apiWorkflow,
				variables: [{ name: 'product', type: 'string' }],
				author: 'ana',
			},
		});
		expect(template.name).toBe('Product Hero');
		expect(template.tags).toEqual(['hero', 'studio']);
		expect(template.labels).toEqual({ production: 1 });
		expect(version.version).toBe(1);
		expect(version.workflowChecksum).toMatch(/^[0-9a-f]{64}$/);
		expect(version.variables).toEqual([expect.objectContaining({ name: 'product', type: 'string' })]);
		const history = await labelHistory(pool, template, 'production', 10);
		expect(history).toEqual([expect.objectContaining({ fromVersion: null, toVersion: 1, movedBy: 'ana' })]);
	});

	test('a duplicate name (any case) is template_name_taken (409) naming the field, and nothing is written', async () => {
		const before = await counts();
		const error = await rejection(createTemplate(pool, { name: 'product hero', kind: 'image', firstVersion: { positivePrompt: 'x' } }));
		expect(error).toBeInstanceOf(ConflictError);
		expect(error).toMatchObject({ code: 'template_name_taken', field: 'name', httpStatus: 409 });
		expect(await counts()).toEqual(before);
	});

	test('a UI-format workflow is refused with export instructions and nothing is written', async () => {
		const before = await counts();
		const error = await rejection(createTemplate(pool, { name: 'ui paste', kind: 'image', firstVersion: { workflow: uiWorkflow } }));
		expect(error).toMatchObject({ code: 'workflow_ui_format', field: 'workflow', httpStatus: 400 });
		expect(error.hint).toMatch(/Export \(API\)/);
		expect(await counts()).toEqual(before);
	});

	test('invalid variable definitions are refused before anything is stored', async () => {
		const before = await counts();
		const error = await rejection(
			createTemplate(pool, {
				name: 'bad vars',
				kind: 'text',
				firstVersion: { positivePrompt: 'x', variables: [{ name: 'a b', type: 'string' }] },
			}),
		);
		expect(error).toMatchObject({ code: 'variable_definition_invalid', field: 'variables.0.name' });
		expect(error.message).toMatch(/"a b"/);
		expect(await counts()).toEqual(before);
	});

	test.each([
		['name', { name: 'nul\u0000name' }],
		['description', { description: 'a\uD800' }],
		['tags.1', { tags: ['ok', 'b\u0000d'] }],
		['category', { category: 'caf\uFFFD' }],
		['positivePrompt', { firstVersion: { positivePrompt: 'photo\u0000' } }],
		['negativePrompt', { firstVersion: { positivePrompt: 'p', negativePrompt: '\uDFFF' } }],
		['commitMessage', { firstVersion: { positivePrompt: 'p', commitMessage: 'fix\u0000' } }],
		['author', { firstVersion: { positivePrompt: 'p', author: 'bo\u0000b' } }],
		['workflow', { firstVersion: { workflow: { '1': { class_type: 'SaveText', inputs: { text: 'x\u0000' } } } } }],
		['variables.0.default', { firstVersion: { positivePrompt: 'p', variables: [{ name: 'a', type: 'string', default: '\u0000' }] } }],
	])('text Postgres cannot store in %s is invalid_text (400) naming it, and nothing is written', async (field, override) => {
		const before = await counts();
		const input = { name: 'hostile', kind: 'text' as const, firstVersion: { positivePrompt: 'p' }, ...override };
		const error = await rejection(createTemplate(pool, input));
		expect(error).toBeInstanceOf(ValidationError);
		expect(error).toMatchObject({ code: 'invalid_text', field, httpStatus: 400 });
		expect(await counts()).toEqual(before);
	});

	test('other invalid create input is a 400 naming the field (never a conflict)', async () => {
		const cases: Array<[Parameters<typeof createTemplate>[1], object]> = [
			[{ name: '  ', kind: 'text', firstVersion: {} }, { code: 'field_required', field: 'name' }],
			[{ name: 'x'.repeat(201), kind: 'text', firstVersion: {} }, { code: 'text_too_long', field: 'name' }],
			[{ name: 'k', kind: 'video' as 'text', firstVersion: {} }, { code: 'invalid_input', field: 'kind' }],
			[{ name: 'k', kind: 'text', labels: ['Prod'], firstVersion: {} }, { code: 'invalid_input', field: 'labels.0' }],
			[{ name: 'k', kind: 'image', firstVersion: { positivePrompt: '' } }, { code: 'field_required', field: 'workflow' }],
			[{ name: 'k', kind: 'image', firstVersion: { workflow: '{"3": ' } }, { code: 'workflow_invalid', field: 'workflow' }],
		];
		const before = await counts();
		for (const [input, expected] of cases) {
			const error = await rejection(createTemplate(pool, input));
			expect(error).toBeInstanceOf(ValidationError);
			expect(error).toMatchObject(expected);
		}
		expect(await counts()).toEqual(before);
	});

	test('20 concurrent version creations get 20 distinct consecutive numbers', async () => {
		const { template } = await createTemplate(pool, {
			name: 'concurrent',
			kind: 'text',
			firstVersion: { positivePrompt: 'v1' },
		});
		const results = await Promise.all(
			Array.from({ length: 20 }, (_, k) => createVersion(pool, { id: template.id }, { positivePrompt: `v${k + 2}` })),
		);
		const numbers = results.map((r) => r.version.version).sort((a, b) => a - b);
		expect(numbers).toEqual(Array.from({ length: 20 }, (_, k) => k + 2));
		const { rows } = await pool.query<{ n: number }>(
			'SELECT count(DISTINCT version)::int AS n FROM template_versions WHERE template_id = $1',
			[template.id],
		);
		expect(rows[0].n).toBe(21);
		expect((await getTemplate(pool, { id: template.id })).latestVersion).toBe(21);
		const { versions } = await listTemplateVersions(pool, { template: { id: template.id }, limit: 3 });
		expect(versions.map((v) => v.version)).toEqual([21, 20, 19]);
		expect((await listTemplateVersions(pool, { template: { name: 'CONCURRENT' }, returnAll: true })).versions).toHaveLength(21);
	});

	test('versions are immutable in the database itself', async () => {
		await expect(pool.query("UPDATE template_versions SET positive_prompt = 'changed'")).rejects.toThrow(/immutable/);
	});

	test('resolve: production label, newest-version fallback, exact version; unknown label and version are 404s naming the field', async () => {
		const { template } = await createTemplate(pool, {
			name: 'resolver',
			kind: 'text',
			labels: [],
			firstVersion: { positivePrompt: 'one' },
		});
		await createVersion(pool, { id: template.id }, { positivePrompt: 'two' }, ['staging']);
		let t = await getTemplate(pool, { name: 'RESOLVER' });
		// no production label yet → newest version
		expect(await resolveVersion(pool, t, {})).toMatchObject({ resolvedBy: 'latest', version: { version: 2 } });
		await setTemplateLabel(pool, { template: { id: t.id }, label: 'production', version: 1 });
		t = await getTemplate(pool, { id: t.id });
		expect(await resolveVersion(pool, t, {})).toMatchObject({ resolvedBy: 'label', version: { version: 1 } });
		expect(await getTemplateVersion(pool, { template: { name: 'resolver' }, label: 'staging' })).toMatchObject({
			resolvedBy: 'label',
			version: { positivePrompt: 'two' },
		});
		expect(await getTemplateVersion(pool, { template: { id: t.id }, version: 2 })).toMatchObject({ resolvedBy: 'version' });

		const canary = await rejection(getTemplateVersion(pool, { template: { id: t.id }, label: 'canary' }));
		expect(canary).toBeInstanceOf(NotFoundError);
		expect(canary).toMatchObject({ code: 'label_not_found', field: 'label', httpStatus: 404, details: { labels: ['production', 'staging'] } });
		expect(canary.message).toMatch(/no label "canary" \(labels: production, staging\)/);
		expect(await rejection(getTemplateVersion(pool, { template: { id: t.id }, version: 9 }))).toMatchObject({
			code: 'version_not_found',
			field: 'version',
			httpStatus: 404,
		});
		expect(await rejection(getTemplateVersion(pool, { template: { id: t.id }, version: 0 }))).toMatchObject({
			code: 'invalid_input',
			field: 'version',
		});
	});

	test('an unknown template is template_not_found (404) naming the field, by name, by ID or by a non-ID', async () => {
		for (const template of [{ name: 'no-such-template' }, { id: '00000000-0000-4000-8000-000000000000' }, { id: 'not-a-uuid' }]) {
			const error = await rejection(getTemplateVersion(pool, { template }));
			expect(error).toMatchObject({ code: 'template_not_found', field: 'template', httpStatus: 404 });
		}
		expect(await rejection(getTemplateVersion(pool, { template: { name: ' ' } }))).toMatchObject({
			code: 'field_required',
			field: 'template',
		});
		expect(await rejection(createVersion(pool, { name: 'nope' }, { positivePrompt: 'x' }))).toMatchObject({
			code: 'template_not_found',
			field: 'template',
		});
	});

	test('label moves are recorded in history and rollback moves the label back', async () => {
		const { template } = await createTemplate(pool, { name: 'labels', kind: 'text', firstVersion: { positivePrompt: '1' } });
		await createVersion(pool, { id: template.id }, { positivePrompt: '2' });
		await createVersion(pool, { id: template.id }, { positivePrompt: '3' });
		const ref = { id: template.id };
		await setTemplateLabel(pool, { template: ref, label: ' production ', version: 3, movedBy: 'bo', reason: 'better' });
		const back = await rollbackTemplateLabel(pool, { template: ref, label: 'production', movedBy: 'bo' });
		expect(back).toMatchObject({ fromVersion: 3, toVersion: 1 });
		const t = await getTemplate(pool, ref);
		expect(t.labels.production).toBe(1);
		const { history } = await getLabelHistory(pool, { template: ref, label: 'production', limit: 10 });
		expect(history.map((h) => [h.fromVersion, h.toVersion])).toEqual([
			[3, 1],
			[1, 3],
			[null, 1],
		]);
		expect(history[1]).toMatchObject({ movedBy: 'bo', reason: 'better' });
		expect(history[0]).toMatchObject({ reason: 'rollback from version 3' });
		expect((await getLabelHistory(pool, { template: ref, label: '' })).history).toHaveLength(3);

		const before = await counts();
		const bad = await rejection(setTemplateLabel(pool, { template: ref, label: 'Bad Label', version: 1 }));
		expect(bad).toBeInstanceOf(ValidationError);
		expect(bad).toMatchObject({ code: 'invalid_input', field: 'label', httpStatus: 400 });
		expect(bad.message).toMatch(/Invalid label "Bad Label"/);
		expect(await rejection(setTemplateLabel(pool, { template: ref, label: 'staging', version: 7 }))).toMatchObject({
			code: 'version_not_found',
			field: 'version',
		});
		expect(await rejection(rollbackTemplateLabel(pool, { template: ref, label: 'nope' }))).toMatchObject({
			code: 'label_not_found',
			field: 'label',
			httpStatus: 404,
		});
		await setTemplateLabel(pool, { template: ref, label: 'fresh', version: 2 });
		const never = await rejection(rollbackTemplateLabel(pool, { template: ref, label: 'fresh' }));
		expect(never).toBeInstanceOf(ConflictError);
		expect(never).toMatchObject({ code: 'label_has_no_history', field: 'label', httpStatus: 409 });
		expect(await counts()).toEqual({ ...before, moves: before.moves + 1 }); // only the 'fresh' move
	});

	test('diff names the version field that has no version', async () => {
		const { template } = await createTemplate(pool, { name: 'diffed', kind: 'text', firstVersion: { positivePrompt: 'a red cat' } });
		await createVersion(pool, { id: template.id }, { positivePrompt: 'a blue cat' });
		const { diff } = await diffTemplateVersions(pool, { template: { name: 'diffed' }, fromVersion: 1, toVersion: 2 });
		expect(diff.positivePrompt).toEqual([
			{ op: 'equal', text: 'a ' },
			{ op: 'remove', text: 'red' },
			{ op: 'add', text: 'blue' },
			{ op: 'equal', text: ' cat' },
		]);
		expect(await rejection(diffTemplateVersions(pool, { template: { name: 'diffed' }, fromVersion: 1, toVersion: 5 }))).toMatchObject({
			code: 'version_not_found',
			field: 'toVersion',
		});
		expect(await rejection(diffTemplateVersions(pool, { template: { name: 'diffed' }, fromVersion: 4, toVersion: 2 }))).toMatchObject({
			code: 'version_not_found',
			field: 'fromVersion',
		});
	});

	test('find filters by category, kind, tags any/all and text; sorts by whitelisted fields; paginates; hides archived', async () => {
		const mk = (name: string, kind: 'image' | 'text', category: string, tags: string[], description = '') =>
			createTemplate(pool, { name, kind, category, tags, description, firstVersion: { positivePrompt: 'p' } });
		await mk('f-alpha', 'image', 'food', ['warm', 'macro']);
		await mk('f-beta', 'image', 'food', ['cold'], 'icy drinks');
		await mk('f-gamma', 'text', 'food', ['warm', 'copy']);
		const archived = await mk('f-delta', 'image', 'food', ['warm']);
		await archiveTemplate(pool, { template: { id: archived.template.id } });

		const names = async (f: Partial<Parameters<typeof findTemplates>[1]>) =>
			(await findTemplates(pool, { category: ' FOOD ', ...f })).items.map((t) => t.name);
		expect(await names({})).toEqual(['f-alpha', 'f-beta', 'f-gamma']);
		expect(await names({ includeArchived: true })).toEqual(['f-alpha', 'f-beta', 'f-delta', 'f-gamma']);
		expect(await names({ kind: 'text' })).toEqual(['f-gamma']);
		expect(await names({ tagsAny: 'Cold, macro' })).toEqual(['f-alpha', 'f-beta']);
		expect(await names({ tagsAll: ['warm', 'COPY'] })).toEqual(['f-gamma']);
		expect(await names({ search: ' ICY ' })).toEqual(['f-beta']);
		expect(await names({ sortBy: 'name', sortOrder: 'desc' })).toEqual(['f-gamma', 'f-beta', 'f-alpha']);
		const page1 = await findTemplates(pool, { category: 'food', limit: 2 });
		expect(page1).toMatchObject({ total: 3, nextOffset: 2 });
		const page2 = await findTemplates(pool, { category: 'food', limit: 2, offset: 2 });
		expect(page2.items.map((t) => t.name)).toEqual(['f-gamma']);
		expect(page2.nextOffset).toBeNull();
		expect((await findTemplates(pool, { category: 'food', returnAll: true, limit: 1 })).items).toHaveLength(3);

		const restored = await archiveTemplate(pool, { template: { id: archived.template.id }, archived: false });
		expect(restored.archived).toBe(false);
	});

	test('SQL injection attempts in every filter and sort field change nothing', async () => {
		const before = await counts();
		const hostile = ["'; DROP TABLE templates; --", "x' OR '1'='1", '%', '_', '\\', '"; DELETE FROM template_versions; --'];
		for (const h of hostile) {
			const r = await findTemplates(pool, { category: h, search: h, tagsAny: [h], tagsAll: [h] });
			expect(r.items).toEqual([]);
			expect((await findTemplates(pool, { search: h })).items).toEqual([]);
			expect(await rejection(getTemplate(pool, { name: h }))).toMatchObject({ code: 'template_not_found' });
			expect(await rejection(getTemplate(pool, { id: h }))).toMatchObject({ code: 'template_not_found' });
			expect(await rejection(findTemplates(pool, { limit: 5, sortBy: h as TemplateSortField }))).toMatchObject({
				code: 'invalid_input',
				field: 'sortBy',
			});
			// the repository's whitelist holds on its own too
			expect(await rejection(listTemplates(pool, { limit: 5, sortBy: h as TemplateSortField }))).toMatchObject({
				code: 'invalid_input',
				field: 'sortBy',
			});
		}
		expect(await rejection(findTemplates(pool, { search: 'a\u0000' }))).toMatchObject({ code: 'invalid_text', field: 'search' });
		expect(await counts()).toEqual(before);
	});

	test('archived templates refuse new versions with template_archived (409)', async () => {
		const { template } = await createTemplate(pool, { name: 'old', kind: 'text', firstVersion: { positivePrompt: 'x' } });
		await archiveTemplate(pool, { template: { id: template.id } });
		const before = await counts();
		const error = await rejection(createVersion(pool, { id: template.id }, { positivePrompt: 'y' }));
		expect(error).toBeInstanceOf(ConflictError);
		expect(error).toMatchObject({ code: 'template_archived', field: 'template', httpStatus: 409 });
		expect(await counts()).toEqual(before);
		const restored = await archiveTemplate(pool, { template: { id: template.id }, archived: false });
		expect(restored.archived).toBe(false);
		expect((await createVersion(pool, { id: template.id }, { positivePrompt: 'y' })).version.version).toBe(2);
	});
});
