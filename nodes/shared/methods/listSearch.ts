import type { ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import { findTemplates } from '../../../lib/templates/manage';
import { promptLabPool } from '../postgres';

const PAGE = 50;

/** Template picker of every node (templateRLC): searchable, paginated list (value = template ID). */
export async function searchTemplates(
	this: ILoadOptionsFunctions,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const pool = await promptLabPool.call(this);
	const offset = paginationToken ? Number(paginationToken) || 0 : 0;
	const page = await findTemplates(pool, { search: filter, limit: PAGE, offset, sortBy: 'name' });
	return {
		results: page.items.map((t) => ({
			name: `${t.name} (${t.kind}${t.category ? `, ${t.category}` : ''}, v${t.latestVersion})`,
			value: t.id,
			description: t.description || undefined,
		})),
		paginationToken: page.nextOffset === null ? undefined : String(page.nextOffset),
	};
}
