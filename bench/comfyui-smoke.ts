import { closeAllComfyConnections } from '../lib/comfyui';
import { benchWorkflow, connectSdk, promptlabClient, runComfyuiMedia, runPromptlab, runSdk } from './comfyui-common';
import { startSimHost } from './comfyui-sim-host';

async function main() {
	const sim = await startSimHost((process.argv[2] as 'inproc' | 'child') ?? 'inproc', { nodeTimeMs: 2, cache: false });
	const ours = promptlabClient(sim.url);
	const a = await runPromptlab(ours, benchWorkflow(1), true);
	console.log('ours', a, await sim.finishTimes([a.promptId]));
	const api = await connectSdk(sim.url);
	const b = await runSdk(api, benchWorkflow(2), true);
	console.log('sdk', b, await sim.finishTimes([b.promptId]));
	if (process.argv.includes('--media')) {
		const c = await runComfyuiMedia(sim.url, benchWorkflow(3));
		console.log('media', { ...c, items: undefined }, JSON.stringify(c.items[0]).slice(0, 600), await sim.finishTimes([c.promptId]));
	}
	api.destroy();
	await closeAllComfyConnections();
	await sim.stop();
	process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
