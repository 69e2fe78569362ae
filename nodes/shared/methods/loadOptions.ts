import type { ILoadOptionsFunctions, INodeParameterResourceLocator, INodePropertyOptions } from 'n8n-workflow';

import { getTemplate, listCategories } from '../../../lib/db/templates';
import { DEFAULT_LABEL } from '../../../lib/templates/inputs';
import { promptLabPool } from '../postgres';

/** Categories of the non-archived templates, for category filters. */
export async function getCategories(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const pool = await promptLabPool.call(this);
	return (await listCategories(pool)).map((c) => ({ name: c, value: c }));
}

/** Labels of the selected template; `production` is always offered (it falls back to the newest version). */
export async function getLabels(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const rl = this.getCurrentNodeParameter('template') as INodeParameterResourceLocator | undefined;
	const value = String(rl?.value ?? '').trim();
	const labels = new Map<string, string>([[DEFAULT_LABEL, DEFAULT_LABEL]]);
	if (value) {
		try {
			const pool = await promptLabPool.call(this);
			const template = await getTemplate(pool, rl?.mode === 'name' ? { name: value } : { id: value });
			for (const [label, version] of Object.entries(template.labels)) labels.set(label, `${label} (v${version})`);
		} catch {
			// an unknown template just gets the default list; the operation itself reports the error
		}
	}
	return [...labels.entries()]
		.sort(([a], [b]) => a.localeCompare(b))
		.map(([value, name]) => ({ name, value }));
}
