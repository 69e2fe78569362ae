import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import type { Pool } from 'pg';

import type { ComfyServerPool } from '../../../lib/comfyui';
import type { ItemResult } from '../../shared/execute';

/** What every operation gets besides the item index. */
export interface OperationContext {
	comfy: ComfyServerPool;
	/** The PromptLab database, when a PromptLab Postgres credential is set on the node. */
	db?: Pool;
	/** Fires on n8n's Stop, or when another item failed and the node is going to stop. */
	signal: AbortSignal;
}

export type OperationExecute = (this: IExecuteFunctions, ctx: OperationContext, itemIndex: number) => Promise<ItemResult>;

export interface OperationModule {
	description: INodeProperties[];
	execute: OperationExecute;
}

/** Display names of parameters, used by error messages to name the field to fix. */
export const FIELD_LABELS: Record<string, string> = {
	source: 'Source',
	template: 'Template',
	version: 'Version',
	label: 'Label',
	values: 'Variable Values',
	variables: 'Variable Values',
	workflow: 'Workflow (API Format)',
	seed: 'Overrides → Seed',
	steps: 'Overrides → Steps',
	cfg: 'Overrides → CFG',
	width: 'Overrides → Width',
	height: 'Overrides → Height',
	checkpoint: 'Overrides → Checkpoint',
	timeout: 'Timeout (Seconds)',
	binaryPropertyName: 'Binary Property',
	inputBinaryProperty: 'Input Binary Property',
	executionId: 'Execution ID',
	promptId: 'Prompt ID',
	parallelItems: 'Parallel Items',
	fileName: 'File Name',
	lookupBy: 'Look Up By',
	campaignId: 'Tracking → Campaign ID',
	variantId: 'Tracking → Variant ID',
	userId: 'Tracking → User ID',
	galleryId: 'Tracking → Gallery ID',
};

/** n8n binary property names: letters, digits, _ and - (they become object keys and expression paths). */
export const BINARY_PROPERTY_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Fields that travel with a job so feedback, galleries and A/B results can find it later. */
export interface Tracking {
	userId?: string;
	campaignId?: string;
	variantId?: string;
	galleryId?: string;
}
