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

/**
 * Display names of parameters by use-case input field (lib/generation/input.ts), so the n8n error
 * names the parameter to change; the error item keeps the field name itself.
 */
export const FIELD_LABELS: Record<string, string> = {
	source: 'Source',
	template: 'Template',
	version: 'Version',
	label: 'Label',
	values: 'Variable Values',
	variables: 'Variable Values',
	workflow: 'Workflow (API Format)',
	overrides: 'Overrides',
	'overrides.seed': 'Overrides → Seed',
	'overrides.steps': 'Overrides → Steps',
	'overrides.cfg': 'Overrides → CFG',
	'overrides.width': 'Overrides → Width',
	'overrides.height': 'Overrides → Height',
	'overrides.checkpoint': 'Overrides → Checkpoint',
	waitForCompletion: 'Wait for Completion',
	timeout: 'Timeout (Seconds)',
	outputs: 'Output Files',
	binaryPropertyName: 'Binary Property',
	inputBinaryProperty: 'Input Binary Property',
	executionId: 'Execution ID',
	promptId: 'Prompt ID',
	parallelItems: 'Parallel Items',
	fileName: 'File Name',
	lookupBy: 'Look Up By',
	galleryId: 'Gallery ID',
	campaignId: 'Tracking → Campaign ID',
	variantId: 'Tracking → Variant ID',
	userId: 'Tracking → User ID',
	maxJobsInFlightPerUser: 'Max Jobs in Flight per User',
	maxJobsPerDayPerUser: 'Max Jobs per Day per User',
};

/** n8n binary property names: letters, digits, _ and - (they become object keys and expression paths). */
export const BINARY_PROPERTY_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
