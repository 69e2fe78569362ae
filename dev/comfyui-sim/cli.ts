/**
 * Standalone simulator for manual trials: `npm run comfyui-sim [-- --port 8188 --node-ms 200]`.
 * Port from --port, else COMFYUI_SIM_PORT, else 8188.
 */
import { startComfySim } from './index';
import type { ComfySimAuth } from './types';

function argument(name: string): string | undefined {
	const args = process.argv.slice(2);
	const index = args.indexOf(`--${name}`);
	if (index >= 0) return args[index + 1];
	const inline = args.find((arg) => arg.startsWith(`--${name}=`));
	return inline ? inline.slice(name.length + 3) : undefined;
}

async function main(): Promise<void> {
	if (process.argv.includes('--help')) {
		process.stdout.write(
			'Usage: npm run comfyui-sim -- [--port 8188] [--host 127.0.0.1] [--node-ms 150] [--checkpoints a.safetensors,b.safetensors]\n' +
				'                              [--bearer TOKEN | --login-token TOKEN] [--preview-method auto]\n',
		);
		return;
	}
	const port = Number(argument('port') ?? process.env.COMFYUI_SIM_PORT ?? 8188);
	const nodeTimeMs = Number(argument('node-ms') ?? 150);
	const checkpoints = argument('checkpoints')?.split(',').map((name) => name.trim()).filter(Boolean);
	let auth: ComfySimAuth | undefined;
	const bearer = argument('bearer');
	const loginToken = argument('login-token');
	if (bearer) auth = { type: 'bearer', token: bearer };
	else if (loginToken) auth = { type: 'redirect-login', token: loginToken };
	const previewMethod = argument('preview-method') as 'none' | 'auto' | undefined;
	const sim = await startComfySim({
		port,
		host: argument('host') ?? '127.0.0.1',
		nodeTimeMs,
		checkpoints,
		previewMethod,
		faults: auth ? { auth } : {},
		log: (line) => process.stdout.write(`[comfyui-sim] ${line}\n`),
	});
	process.stdout.write('==================================================================\n');
	process.stdout.write('  ComfyUI SIMULATOR (no GPU, fake images)\n');
	process.stdout.write(`  ${sim.url}   (WebSocket ${sim.wsUrl}/ws, also /api/...)\n`);
	process.stdout.write(`  node time ${nodeTimeMs} ms, checkpoints: ${sim.options.checkpoints.join(', ')}\n`);
	if (auth) process.stdout.write(`  auth: ${auth.type}\n`);
	process.stdout.write('==================================================================\n');
	const shutdown = () => {
		void sim.stop().then(() => process.exit(0));
	};
	process.on('SIGINT', shutdown);
	process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
	process.stderr.write(`comfyui-sim failed: ${error instanceof Error ? error.stack : String(error)}\n`);
	process.exit(1);
});
