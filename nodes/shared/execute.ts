import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { toNodeError, type FieldLabels } from './errors';

export type ItemResult = IDataObject | IDataObject[] | INodeExecutionData[];

const EXECUTION_DATA_KEYS = new Set(['json', 'binary', 'pairedItem']);

/** An n8n item ({ json, binary? }) rather than a plain result object. */
function isExecutionData(value: IDataObject | INodeExecutionData): value is INodeExecutionData {
	const json = (value as INodeExecutionData).json;
	return typeof json === 'object' && json !== null && Object.keys(value).every((k) => EXECUTION_DATA_KEYS.has(k));
}

/**
 * The canonical n8n item loop: run `handler` for every input item, pair each output item with its
 * input item, and on error either stop with a NodeOperationError naming the field or, with
 * "Continue On Fail", emit an error item for that input and go on with the next one.
 */
export async function executePerItem(
	ctx: IExecuteFunctions,
	handler: (itemIndex: number) => Promise<ItemResult>,
	labels: FieldLabels = {},
): Promise<INodeExecutionData[]> {
	const items = ctx.getInputData();
	const output: INodeExecutionData[] = [];
	for (let i = 0; i < items.length; i++) {
		try {
			const result = await handler(i);
			const list = (Array.isArray(result) ? result : [result]) as Array<IDataObject | INodeExecutionData>;
			for (const entry of list) {
				const data: INodeExecutionData = isExecutionData(entry) ? entry : { json: entry };
				output.push({ ...data, pairedItem: { item: i } });
			}
		} catch (error) {
			const nodeError = toNodeError(ctx.getNode(), error, i, labels);
			if (!ctx.continueOnFail()) throw nodeError;
			output.push({
				json: { error: nodeError.message, ...(nodeError.description ? { description: nodeError.description } : {}) },
				pairedItem: { item: i },
			});
		}
	}
	return output;
}
