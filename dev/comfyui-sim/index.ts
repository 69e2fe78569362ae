/**
 * ComfyUI simulator for tests: a test double that speaks the real ComfyUI protocol point by point
 * (research/comfyui-protocol.md §6.2). Nothing in lib/ or nodes/ knows it exists.
 *
 *   const sim = await startComfySim({ nodeTimeMs: 2 });
 *   // POST `${sim.url}/api/prompt`, WS `${sim.wsUrl}/api/ws?clientId=…`, GET /api/history/{id}, /api/view …
 *   sim.faults.executionErrorAtNode = '3';
 *   await sim.stop();
 */
import { ComfySimServer } from './server';
import type { ComfySim, ComfySimOptions } from './types';

export type {
	ComfySim,
	ComfySimAuth,
	ComfySimFaults,
	ComfySimOptions,
	ComfySimResolvedOptions,
	SimFileRef,
	SimHistoryEntry,
	SimInterrupt,
	SimRequestRecord,
	SimSentFrame,
	SimSubmission,
	SimSubmittedPrompt,
} from './types';
export { txt2imgWorkflow, videoWorkflow, textWorkflow } from './workflows';
export { readPngSize, readPngText, encodeSolidPng } from './png';
export { NODE_REGISTRY, SAMPLERS, SCHEDULERS } from './registry';

/** Start a simulator (ephemeral port on 127.0.0.1 unless options.port is given). */
export async function startComfySim(options: ComfySimOptions = {}): Promise<ComfySim> {
	const sim = new ComfySimServer(options);
	await sim.start();
	return sim;
}
