import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import type { Pool } from 'pg';

import { executePerItem, lazily } from '../../shared/execute';
import { promptLabPool } from '../../shared/postgres';
import { toComfyNodeError } from '../helpers/errors';
import { comfyPool } from '../transport';
import { FIELD_LABELS, type OperationModule } from './common';
import * as comfyui from './comfyui/ComfyUi.resource';
import { parallelItems } from './comfyui/generate.operation';

const operations: Record<string, OperationModule> = {
	cancel: comfyui.cancel,
	generate: comfyui.generate,
	getQueueStatus: comfyui.getQueueStatus,
	getResult: comfyui.getResult,
	uploadImage: comfyui.uploadImage,
};

/** The PromptLab Postgres credential is optional on this node: recording happens only when it is set. */
async function optionalDatabase(ctx: IExecuteFunctions): Promise<Pool | undefined> {
	if (!ctx.getNode().credentials?.promptLabPostgres) return undefined;
	return promptLabPool.call(ctx);
}

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const operation = this.getNodeParameter('operation', 0) as string;
	const op = operations[operation];
	if (!op) throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`);
	const node = this.getNode();
	let concurrency = 1;
	try {
		if (operation === 'generate') concurrency = parallelItems(this);
	} catch (error) {
		throw toComfyNodeError(node, error, 0, FIELD_LABELS);
	}
	// Awaited per item, so a bad credential or an unreachable database fails each item the same
	// way (and "Continue On Fail" turns it into error items) instead of escaping the item loop.
	const setup = lazily(Promise.all([comfyPool.call(this), optionalDatabase(this)]));
	const items = await executePerItem(
		this,
		async (i, signal) => {
			const [comfy, db] = await setup;
			return op.execute.call(this, { comfy, db, signal }, i);
		},
		{
			concurrency,
			toError: (error, i) => toComfyNodeError(node, error, i, FIELD_LABELS),
		},
	);
	return [items];
}
