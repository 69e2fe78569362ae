import { NodeOperationError, type ILoadOptionsFunctions, type INodePropertyOptions } from 'n8n-workflow';

import { comfyPool } from '../transport';

/**
 * Checkpoints for the Overrides → Checkpoint dropdown, from /object_info of every server of the
 * pool. A job may land on any server, so a checkpoint that only some servers have says so.
 */
export async function getCheckpoints(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const pool = await comfyPool.call(this);
	const lists = await Promise.allSettled(pool.clients.map((client) => client.listCheckpoints()));
	const reachable: Array<{ server: string; names: Set<string> }> = [];
	let firstError: unknown;
	lists.forEach((list, index) => {
		if (list.status === 'fulfilled') reachable.push({ server: pool.clients[index].server, names: new Set(list.value) });
		else firstError ??= list.reason;
	});
	if (reachable.length === 0) {
		throw new NodeOperationError(this.getNode(), `Could not list the checkpoints: ${(firstError as Error)?.message ?? 'no server answered'}`);
	}
	const all = [...new Set(reachable.flatMap((r) => [...r.names]))].sort((a, b) => a.localeCompare(b));
	return all.map((name) => {
		const missing = reachable.filter((r) => !r.names.has(name)).map((r) => r.server);
		return {
			name: missing.length > 0 ? `${name} (not on ${missing.join(', ')})` : name,
			value: name,
		};
	});
}
