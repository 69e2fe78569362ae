import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

import { throwIfStopped } from '../../../../lib/generation';
import type { OperationContext } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Include Prompt IDs',
		name: 'includePromptIds',
		type: 'boolean',
		default: false,
		description: 'Whether to list the prompt IDs running and waiting on each server (pending in run order)',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['comfyui'], operation: ['getQueueStatus'] } }, properties);

/** One item per server of the pool: reachable or not, running and pending counts, our own jobs there. */
export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<IDataObject[]> {
	throwIfStopped(ctx.signal);
	const includeIds = this.getNodeParameter('includePromptIds', i, false) as boolean;
	const health = await ctx.comfy.health();
	return Promise.all(
		ctx.comfy.clients.map(async (client, index) => {
			const h = health[index];
			const json: IDataObject = { server: client.server, up: h.up, activeJobs: h.activeJobs };
			if (!h.up) return { ...json, error: h.lastError ?? 'unreachable' };
			try {
				const queue = await client.getQueue({ signal: ctx.signal });
				Object.assign(json, { running: queue.running.length, pending: queue.pending.length, queueRemaining: queue.remaining });
				if (includeIds) {
					json.runningPromptIds = queue.running.map((q) => q.promptId);
					json.pendingPromptIds = queue.pending.map((q) => q.promptId);
				}
			} catch (error) {
				Object.assign(json, { up: false, error: (error as Error).message });
			}
			return json;
		}),
	);
}
