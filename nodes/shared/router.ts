import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import type { FieldLabels } from './errors';
import { executePerItem, lazily, type ItemResult } from './execute';
import { promptLabPool } from './postgres';

/** An operation of a node that works on the PromptLab database: one input item in, its result out. */
export interface PostgresOperation {
	description: INodeProperties[];
	execute: (this: IExecuteFunctions, pool: Pool, itemIndex: number) => Promise<ItemResult>;
}

/** resource → operation → module, as in n8n's Postgres v2 router. */
export type PostgresOperations = Record<string, Record<string, PostgresOperation>>;

/**
 * The router of every PromptLab database node: picks the operation from the resource and
 * operation parameters and runs it over the input items. The pool is awaited per item, so a bad
 * credential fails each item like any other error (and "Continue On Fail" applies to it).
 */
export async function routePostgresOperation(
	ctx: IExecuteFunctions,
	operations: PostgresOperations,
	labels: FieldLabels,
): Promise<INodeExecutionData[][]> {
	const resources = Object.keys(operations);
	const resource = ctx.getNodeParameter('resource', 0, resources.length === 1 ? resources[0] : undefined) as string;
	const operation = ctx.getNodeParameter('operation', 0) as string;
	const op = operations[resource]?.[operation];
	if (!op) {
		throw new NodeOperationError(ctx.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	const pool = lazily(promptLabPool.call(ctx));
	return [await executePerItem(ctx, async (i) => op.execute.call(ctx, await pool, i), { labels })];
}
