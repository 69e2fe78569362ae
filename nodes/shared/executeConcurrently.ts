import type { IDataObject, IExecuteFunctions, INodeExecutionData, NodeOperationError } from 'n8n-workflow';

import { toNodeError, type FieldLabels } from './errors';
import type { ItemResult } from './execute';

const EXECUTION_DATA_KEYS = new Set(['json', 'binary', 'pairedItem']);

function isExecutionData(value: IDataObject | INodeExecutionData): value is INodeExecutionData {
	const json = (value as INodeExecutionData).json;
	return typeof json === 'object' && json !== null && Object.keys(value).every((k) => EXECUTION_DATA_KEYS.has(k));
}

export interface ConcurrentOptions {
	/** Items in flight at once (1 = one after the other, like executePerItem). */
	concurrency: number;
	labels?: FieldLabels;
	/** Error mapping (default: toNodeError). */
	toError?: (error: unknown, itemIndex: number) => NodeOperationError;
	/** json of a Continue-On-Fail error item (default: { error, description }). */
	errorJson?: (error: NodeOperationError) => IDataObject;
}

/**
 * executePerItem with up to `concurrency` items in flight. Output keeps input order and every
 * output item is paired with its input item, however many items one input produces.
 *
 * Each handler gets an AbortSignal that fires when n8n cancels the execution, or when another
 * item failed without "Continue On Fail": the node is going to fail, so the items still running
 * are stopped (their jobs removed from the server) before the first failure is thrown.
 */
export async function executePerItemConcurrently(
	ctx: IExecuteFunctions,
	handler: (itemIndex: number, signal: AbortSignal) => Promise<ItemResult>,
	options: ConcurrentOptions,
): Promise<INodeExecutionData[]> {
	const items = ctx.getInputData();
	const toError = options.toError ?? ((error: unknown, i: number) => toNodeError(ctx.getNode(), error, i, options.labels ?? {}));
	const errorJson =
		options.errorJson ??
		((e: NodeOperationError): IDataObject => ({ error: e.message, ...(e.description ? { description: e.description } : {}) }));
	const continueOnFail = ctx.continueOnFail();

	const stop = new AbortController();
	const external = ctx.getExecutionCancelSignal?.();
	const forwardCancel = () => stop.abort(external?.reason);
	if (external?.aborted) forwardCancel();
	else external?.addEventListener('abort', forwardCancel, { once: true });

	const results: INodeExecutionData[][] = new Array(items.length);
	let fatal: NodeOperationError | undefined;
	let next = 0;

	const worker = async () => {
		while (next < items.length && !fatal) {
			const i = next++;
			try {
				const result = await handler(i, stop.signal);
				const list = (Array.isArray(result) ? result : [result]) as Array<IDataObject | INodeExecutionData>;
				results[i] = list.map((entry) => {
					const data: INodeExecutionData = isExecutionData(entry) ? entry : { json: entry };
					return { ...data, pairedItem: { item: i } };
				});
			} catch (error) {
				const nodeError = toError(error, i);
				if (continueOnFail) {
					results[i] = [{ json: errorJson(nodeError), pairedItem: { item: i } }];
				} else if (!fatal) {
					fatal = nodeError;
					stop.abort(nodeError);
				}
			}
		}
	};

	try {
		const width = Math.max(1, Math.min(Math.floor(options.concurrency) || 1, items.length));
		await Promise.all(Array.from({ length: width }, worker));
	} finally {
		external?.removeEventListener('abort', forwardCancel);
	}
	if (fatal) throw fatal;
	return results.flat();
}
