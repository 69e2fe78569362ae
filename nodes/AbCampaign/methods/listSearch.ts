import type { ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import { listCampaigns } from '../../../lib/campaigns';
import { promptLabPool } from '../../shared/postgres';

const PAGE = 50;

/** Campaign picker: searchable, paginated list (value = campaign ID), newest first. */
export async function searchCampaigns(
	this: ILoadOptionsFunctions,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const pool = await promptLabPool.call(this);
	const offset = paginationToken ? Number(paginationToken) || 0 : 0;
	const page = await listCampaigns(pool, { search: filter, limit: PAGE, offset });
	return {
		results: page.items.map((c) => ({
			name: `${c.name} (${c.status}, ${c.variants.map((v) => v.key).join('/')})`,
			value: c.id,
			description: c.description || undefined,
		})),
		paginationToken: page.nextOffset === null ? undefined : String(page.nextOffset),
	};
}
