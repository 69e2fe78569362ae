import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Pool } from 'pg';

import { ConflictError, NotFoundError } from '../lib/db/errors';
import { getPool } from '../lib/db/pool';
import {
	createTemplate,
	createVersion,
	getTemplate,
	labelHistory,
	listTemplates,
	resolveVersion,
	rollbackLabel,
	setArchived,
	setLabel,
	type TemplateSortField,
} from '../lib/db/templates';
import { createTestDatabase, type TestDatabase } from './support/database';

const apiWorkflow = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'txt2img.api.json'), 'utf8'));
const uiWorkflow = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'txt2img.ui.json'), 'utf8'));

describe('templates repository (real Postgres)', () => {
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
			name: 'Product Hero',
			kind: 'image',
			category: 'product',
			tags: ['Hero', 'studio', 'hero'],
			description: 'hero shots',
			firstVersion: {
				positivePrompt: 'photo of {{product}}',
				workflow: apiWorkflow,
				variables: [{ name: 'product', type: 'string' }],
				author: 'ana',
			},
		});
		expect(template.tags).toEqual(['hero', 'studio']);
		expect(template.labels).toEqual({ production: 1 });
		expect(version.version).toBe(1);
		expect(version.workflowChecksum).toMatch(/^[0-9a-f]{64}$/);
		expect(version.variables).toEqual([expect.objectContaining({ name: 'product', type: 'string' })]);
		const history = await labelHistory(pool, template, 'production', 10);
		expect(history).toEqual([expect.objectContaining({ fromVersion: null, toVersion: 1, movedBy: 'ana' })]);
	});

	test('a duplicate name (any case) is refused naming the field, and nothing is written', async () => {
		const before = await counts();
		const error = await createTemplate(pool, {
			name: 'product hero',
			kind: 'image',
			firstVersion: { positivePrompt: 'x' },
		}).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(ConflictError);
		expect((error as ConflictError).field).toBe('name');
		expect((error as Error).message).toMatch(/already exists/);
		expect(await counts()).toEqual(before);
	});

	test('a UI-format workflow is refused with export instructions and nothing is written', async () => {
		const before = await counts();
		await expect(
			createTemplate(pool, { name: 'ui paste', kind: 'image', firstVersion: { workflow: uiWorkflow } }),
		).rejects.toThrow(/API/);
		expect(await counts()).toEqual(before);
	});

	test('invalid variable definitions are refused before anything is stored', async () => {
		const before = await counts();
		await expect(
			createTemplate(pool, {
				name: 'bad vars',
				kind: 'text',
				firstVersion: { positivePrompt: 'x', variables: [{ name: 'a b', type: 'string' }] },
			}),
		).rejects.toThrow(/a b/);
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
		const { rows } = await pool.query('SELECT count(DISTINCT version)::int AS n FROM template_versions WHERE template_id = $1', [
			template.id,
		]);
		expect(rows[0].n).toBe(21);
		expect((await getTemplate(pool, { id: template.id })).latestVersion).toBe(21);
	});

	test('versions are immutable in the database itself', async () => {
		await expect(pool.query("UPDATE template_versions SET positive_prompt = 'changed'")).rejects.toThrow(/immutable/);
	});

	test('resolve: production label, newest-version fallback, exact version, unknown label listing the labels', async () => {
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
		await setLabel(pool, { id: t.id }, 'production', 1);
		t = await getTemplate(pool, { id: t.id });
		expect(await resolveVersion(pool, t, {})).toMatchObject({ resolvedBy: 'label', version: { version: 1 } });
		expect(await resolveVersion(pool, t, { label: 'staging' })).toMatchObject({ version: { positivePrompt: 'two' } });
		expect(await resolveVersion(pool, t, { version: 2 })).toMatchObject({ resolvedBy: 'version' });
		await expect(resolveVersion(pool, t, { label: 'canary' })).rejects.toThrow(/no label "canary" \(labels: .*production.*staging/);
		await expect(resolveVersion(pool, t, { version: 9 })).rejects.toThrow(NotFoundError);
	});

	test('label moves are recorded in history and rollback moves the label back', async () => {
		const { template } = await createTemplate(pool, { name: 'labels', kind: 'text', firstVersion: { positivePrompt: '1' } });
		await createVersion(pool, { id: template.id }, { positivePrompt: '2' });
		await createVersion(pool, { id: template.id }, { positivePrompt: '3' });
		await setLabel(pool, { id: template.id }, 'production', 3, { movedBy: 'bo', reason: 'better' });
		const back = await rollbackLabel(pool, { id: template.id }, 'production', { movedBy: 'bo' });
		expect(back).toMatchObject({ fromVersion: 3, toVersion: 1 });
		const t = await getTemplate(pool, { id: template.id });
		expect(t.labels.production).toBe(1);
		const history = await labelHistory(pool, t, 'production', 10);
		expect(history.map((h) => [h.fromVersion, h.toVersion])).toEqual([
			[3, 1],
			[1, 3],
			[null, 1],
		]);
		expect(history[1]).toMatchObject({ movedBy: 'bo', reason: 'better' });
		await expect(setLabel(pool, { id: t.id }, 'Bad Label', 1)).rejects.toThrow(/Invalid label/);
		await expect(rollbackLabel(pool, { id: t.id }, 'nope')).rejects.toThrow(/no label "nope"/);
	});

	test('list filters by category, kind, tags any/all and text; sorts by whitelisted fields; paginates; hides archived', async () => {
		const mk = (name: string, kind: 'image' | 'text', category: string, tags: string[], description = '') =>
			createTemplate(pool, { name, kind, category, tags, description, firstVersion: { positivePrompt: 'p' } });
		await mk('f-alpha', 'image', 'food', ['warm', 'macro']);
		await mk('f-beta', 'image', 'food', ['cold'], 'icy drinks');
		await mk('f-gamma', 'text', 'food', ['warm', 'copy']);
		const archived = await mk('f-delta', 'image', 'food', ['warm']);
		await setArchived(pool, { id: archived.template.id }, true);

		const names = async (f: Partial<Parameters<typeof listTemplates>[1]>) =>
			(await listTemplates(pool, { limit: 50, category: 'FOOD', ...f })).items.map((t) => t.name);
		expect(await names({})).toEqual(['f-alpha', 'f-beta', 'f-gamma']);
		expect(await names({ includeArchived: true })).toEqual(['f-alpha', 'f-beta', 'f-delta', 'f-gamma']);
		expect(await names({ kind: 'text' })).toEqual(['f-gamma']);
		expect(await names({ tagsAny: ['cold', 'macro'] })).toEqual(['f-alpha', 'f-beta']);
		expect(await names({ tagsAll: ['warm', 'copy'] })).toEqual(['f-gamma']);
		expect(await names({ search: 'ICY' })).toEqual(['f-beta']);
		expect(await names({ sortBy: 'name', sortOrder: 'desc' })).toEqual(['f-gamma', 'f-beta', 'f-alpha']);
		const page1 = await listTemplates(pool, { category: 'food', limit: 2 });
		expect(page1).toMatchObject({ total: 3, nextOffset: 2 });
		const page2 = await listTemplates(pool, { category: 'food', limit: 2, offset: 2 });
		expect(page2.items.map((t) => t.name)).toEqual(['f-gamma']);
		expect(page2.nextOffset).toBeNull();
	});

	test('SQL injection attempts in every filter and sort field change nothing', async () => {
		const before = await counts();
		const hostile = ["'; DROP TABLE templates; --", "x' OR '1'='1", '%', '_', '\\', '"; DELETE FROM template_versions; --'];
		for (const h of hostile) {
			const r = await listTemplates(pool, {
				limit: 50,
				category: h,
				search: h,
				tagsAny: [h],
				tagsAll: [h],
			});
			expect(r.items).toEqual([]);
			expect((await listTemplates(pool, { limit: 50, search: h })).items).toEqual([]);
			await expect(getTemplate(pool, { name: h })).rejects.toThrow(NotFoundError);
			await expect(getTemplate(pool, { id: h })).rejects.toThrow(NotFoundError);
			await expect(
				listTemplates(pool, { limit: 5, sortBy: h as TemplateSortField }),
			).rejects.toThrow(/Unknown sort field/);
		}
		expect(await counts()).toEqual(before);
	});

	test('archived templates refuse new versions', async () => {
		const { template } = await createTemplate(pool, { name: 'old', kind: 'text', firstVersion: { positivePrompt: 'x' } });
		await setArchived(pool, { id: template.id }, true);
		await expect(createVersion(pool, { id: template.id }, { positivePrompt: 'y' })).rejects.toThrow(/archived/);
		const restored = await setArchived(pool, { id: template.id }, false);
		expect(restored.archived).toBe(false);
	});
});
