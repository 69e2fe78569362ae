import { NodeOperationError, type INode } from 'n8n-workflow';
import { ZodError } from 'zod';

import { PromptLabError } from '../../lib/db/errors';
import { isTemplateError } from '../../lib/templates';

/** Something with a machine-readable field name (TemplateError, ComfyUiError, PromptLabError...). */
interface FieldError extends Error {
	field?: string;
	code?: string;
}

/** Field-specific hint: display names of parameters, so the message says which field to fix. */
export type FieldLabels = Record<string, string>;

function describeZod(error: ZodError, labels: FieldLabels): { message: string; description: string } {
	const lines = error.issues.map((issue) => {
		const key = String(issue.path[0] ?? '');
		const label = labels[key] ?? key;
		const rest = issue.path.slice(1).join('.');
		return `${label}${rest ? ` → ${rest}` : ''}: ${issue.message}`;
	});
	return { message: `Invalid parameter: ${lines[0]}`, description: lines.join('\n') };
}

/**
 * TemplateError.field names a variable or workflow node, not a node parameter; this maps each
 * template error code to the parameter the user has to change.
 */
const TEMPLATE_ERROR_PARAMETER: Record<string, string> = {
	missing_variable: 'values',
	unknown_variable: 'values',
	invalid_value: 'values',
	unknown_placeholder: 'variables',
	invalid_definition: 'variables',
	ui_format_workflow: 'workflow',
	invalid_workflow: 'workflow',
	workflow_checksum_mismatch: 'workflow',
};

const PG_HINTS: Record<string, string> = {
	ECONNREFUSED: 'Postgres is not reachable: check Host and Port of the PromptLab Postgres credential',
	'28P01': 'Postgres rejected the login: check User and Password of the PromptLab Postgres credential',
	'3D000': 'The database does not exist: check Database in the PromptLab Postgres credential',
	'42501': 'The Postgres user lacks privileges on the PromptLab schema (it needs CREATE on the database the first time)',
};

/** Records the parameter to fix on the error, so error items and error workflows can read it. */
function withField(error: NodeOperationError, field: string | undefined): NodeOperationError {
	if (field) error.context.field = field;
	return error;
}

/** Maps any error from lib/ to a NodeOperationError that names the field and the fix. */
export function toNodeError(node: INode, error: unknown, itemIndex: number, labels: FieldLabels = {}): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	if (error instanceof ZodError) {
		const { message, description } = describeZod(error, labels);
		return withField(new NodeOperationError(node, message, { itemIndex, description }), String(error.issues[0]?.path[0] ?? ''));
	}
	const e = error as FieldError & { code?: string };
	if (isTemplateError(e)) {
		const parameter = TEMPLATE_ERROR_PARAMETER[e.code] ?? e.field;
		const label = parameter ? labels[parameter] ?? parameter : undefined;
		const nodeError = new NodeOperationError(node, e.message, {
			itemIndex,
			description: label ? `Check the "${label}" field.` : undefined,
		});
		return withField(nodeError, parameter);
	}
	if (e instanceof PromptLabError || (e && typeof e.field === 'string')) {
		const label = e.field ? labels[e.field] ?? e.field : undefined;
		const nodeError = new NodeOperationError(node, e.message, {
			itemIndex,
			description: label ? `Check the "${label}" field.` : undefined,
		});
		return withField(nodeError, e.field);
	}
	const hint = e?.code ? PG_HINTS[e.code] : undefined;
	return new NodeOperationError(node, e instanceof Error ? e.message : String(error), {
		itemIndex,
		description: hint,
	});
}
