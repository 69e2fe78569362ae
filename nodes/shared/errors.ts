import { NodeOperationError, type IDataObject, type INode } from 'n8n-workflow';
import { ZodError } from 'zod';

import { toPromptLabError, type ErrorJson, type PromptLabError } from '../../lib/errors';
import { validationErrorFromZod } from '../../lib/validation';

/**
 * Display names of a node's parameters by input-schema field (`rating` → "Rating"), so the n8n
 * error a person reads says which field to fix. The machine-readable `field` stays the schema name.
 */
export type FieldLabels = Record<string, string>;

/** What an adapted NodeOperationError carries in its context: the lib error's JSON plus its HTTP status. */
export interface PromptLabErrorContext extends ErrorJson {
	httpStatus: number;
}

const CONTEXT_KEY = 'promptLab';

function labelFor(field: string | undefined, labels: FieldLabels): string | undefined {
	if (!field) return undefined;
	const top = field.split('.')[0];
	return labels[field] ?? labels[top] ?? undefined;
}

/** The lib error a thrown value stands for: ours as they are, zod errors as validation, the rest mapped. */
function asPromptLabError(error: unknown): PromptLabError {
	if (error instanceof ZodError) return validationErrorFromZod(error);
	if (error instanceof NodeOperationError) {
		const own = error.context[CONTEXT_KEY] as PromptLabErrorContext | undefined;
		if (own) return toPromptLabError(Object.assign(new Error(own.message), own));
	}
	return toPromptLabError(error);
}

/**
 * The one adapter from lib errors to n8n: a NodeOperationError whose title is the message, whose
 * description is the hint and the parameter to change, and whose context keeps the machine part
 * (code, kind, field, httpStatus, details) for error items and error workflows.
 */
export function toNodeError(node: INode, error: unknown, itemIndex: number, labels: FieldLabels = {}): NodeOperationError {
	if (error instanceof NodeOperationError && error.context[CONTEXT_KEY]) return error;
	const e = asPromptLabError(error);
	const label = labelFor(e.field, labels);
	const description = [e.hint, label ? `Check the "${label}" field.` : undefined].filter(Boolean).join('\n');
	const nodeError = new NodeOperationError(node, e.message, { itemIndex, description: description || undefined });
	const context: PromptLabErrorContext = { ...e.toJSON(), httpStatus: e.httpStatus };
	nodeError.context[CONTEXT_KEY] = context as unknown as IDataObject;
	if (e.field) nodeError.context.field = e.field;
	return nodeError;
}

function promptLabContext(error: NodeOperationError): PromptLabErrorContext | undefined {
	return error.context[CONTEXT_KEY] as PromptLabErrorContext | undefined;
}

/**
 * json of an error item, the same for every failure of every node:
 * `{ error, code, kind, httpStatus, field?, hint?, ...details }`. Workflows answer
 * `httpStatus` and `code`; `error` is the message a person reads.
 */
export function errorItemJson(error: NodeOperationError): IDataObject {
	const c = promptLabContext(error);
	if (!c) return { error: error.message, code: 'internal_error', kind: 'internal', httpStatus: 500 };
	return {
		...(c.details as IDataObject | undefined),
		error: c.message,
		code: c.code,
		kind: c.kind,
		httpStatus: c.httpStatus,
		...(c.field ? { field: c.field } : {}),
		...(c.hint ? { hint: c.hint } : {}),
	};
}

/**
 * json of an error item for n8n's error output ("Continue (using error output)"): the fields of
 * errorItemJson under the one key `error` (`{ error: { message, code, kind, httpStatus, field?,
 * hint?, ...details } }`), because n8n routes an item to the error output only when its json is
 * just `{ error }` (and then merges the input item's json under it). Workflows answer
 * `$json.error.httpStatus` and `$json.error.code`.
 */
export function errorOutputJson(error: NodeOperationError): IDataObject {
	const { error: message, ...rest } = errorItemJson(error);
	return { error: { message, ...rest } };
}
