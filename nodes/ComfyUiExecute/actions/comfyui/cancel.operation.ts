import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

import { cancelJob } from '../../../../lib/generation';
import type { OperationContext } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Prompt ID',
		name: 'promptId',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. {{ $json.promptId }}',
		description: 'The ComfyUI prompt ID of the job. For jobs of this node it equals the execution ID.',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['comfyui'], operation: ['cancel'] } }, properties);

/** Deletes the job from the queue if it is waiting, interrupts it if it is running (lib/generation cancelJob). */
export async function execute(this: IExecuteFunctions, ctx: OperationContext, i: number): Promise<IDataObject> {
	// No stop check: removing a job is what a cancelled execution wants anyway.
	const result = await cancelJob(ctx, { promptId: this.getNodeParameter('promptId', i, '') });
	return { ...result };
}
