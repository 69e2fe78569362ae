import type { IDataObject, IExecuteFunctions, INodeExecutionData, NodeOperationError } from 'n8n-workflow';

import { errorItemJson, errorOutputJson, toNodeError, type FieldLabels } from './errors';

export type ItemResult = IDataObject | IDataObject[] | INodeExecutionData[];

const EXECUTION_DATA_KEYS = new Set(['json', 'binary', 'pairedItem']);

/** An n8n item ({ json, binary? }) rather than a plain result object. */
function isExecutionData(value: IDataObject | INodeExecutionData): value is INodeExecutionData {
	const json = (value as INodeExecutionData).json;
	return typeof json === 'object' && json !== null && Object.keys(value).every((k) => EXECUTION_DATA_KEYS.has(k));
}

export interface ItemLoopOptions {
	/** Items in flight at once (default 1: one after the other). */
	concurrency?: number;
	/** Display names of parameters, so errors name the field to fix. */
	labels?: FieldLabels;
	/** Error mapping (default: toNodeError). */
	toError?: (error: unknown, itemIndex: number) => NodeOperationError;
}

/**
 * The canonical n8n item loop: run `handler` for every input item, pair each output item with its
 * input item (however many one input produces), keep input order, and on error either stop with a
 * NodeOperationError naming the field or, with "Continue On Fail", emit an error item for that
 * input and go on. Every error item carries the same fields (errorItemJson: error, code, kind,
 * httpStatus, field, hint): with "Continue" flat on the regular output, with "Continue (using error
 * output)" as `{ error: { message, code, kind, httpStatus, field, hint } }` on the error output
 * (errorOutputJson). Why two forms: n8n 2.8 (WorkflowExecute) replaces the json of every item that
 * has `item.error` set by `{ error: message }`, and routes an item without it to the error output
 * only when its json is exactly `{ error }`; there n8n merges the input item's json under ours.
 *
 * With concurrency > 1 up to that many items run at once. Each handler gets an AbortSignal that
 * fires when n8n cancels the execution, or when another item failed without "Continue On Fail":
 * the node is going to fail, so the items still running are stopped before the failure is thrown.
 *
 * Setup work that every item needs (a connection pool, say) should be passed in as a promise and
 * awaited inside the handler: a setup failure then becomes an error of each item like any other.
 */
export async function executePerItem(
	ctx: IExecuteFunctions,
	handler: (itemIndex: number, signal: AbortSignal) => Promise<ItemResult>,
	opts: ItemLoopOptions = {},
): Promise<INodeExecutionData[]> {
	const items = ctx.getInputData();
	const toError = opts.toError ?? ((error: unknown, i: number) => toNodeError(ctx.getNode(), error, i, opts.labels ?? {}));
	const continueOnFail = ctx.continueOnFail();
	const toErrorOutput = ctx.getNode().onError === 'continueErrorOutput';

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
					// No item.error: n8n would replace the json by { error: message } (see above).
					const json = toErrorOutput ? errorOutputJson(nodeError) : errorItemJson(nodeError);
					results[i] = [{ json, pairedItem: { item: i } }];
				} else if (!fatal) {
					fatal = nodeError;
					stop.abort(nodeError);
				}
			}
		}
	};

	try {
		const width = Math.max(1, Math.min(Math.floor(opts.concurrency ?? 1) || 1, items.length));
		await Promise.all(Array.from({ length: width }, worker));
	} finally {
		external?.removeEventListener('abort', forwardCancel);
	}
	if (fatal) throw fatal;
	return results.flat();
}

/**
 * A setup promise (pool, client) to await inside executePerItem's handler. Marked handled here so
 * that a rejection with zero input items is not an unhandled rejection; each awaiting item still
 * sees the error.
 */
export function lazily<T>(setup: Promise<T>): Promise<T> {
	setup.catch(() => undefined);
	return setup;
}
