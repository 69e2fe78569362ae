/** Small process helpers shared by the n8n scripts (no dependencies beyond Node). */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Log = (message: string) => void;

export const silentLog: Log = () => undefined;

export interface RunResult {
	stdout: string;
	stderr: string;
}

/**
 * Runs a command to completion. Output is captured (and echoed with a prefix when `echo` is set);
 * a non-zero exit rejects with the command line and the last lines of its output.
 */
export async function run(
	command: string,
	args: string[],
	options: { cwd: string; env?: NodeJS.ProcessEnv; echo?: Log; timeoutMs?: number } = { cwd: process.cwd() },
): Promise<RunResult> {
	return new Promise((resolveRun, reject) => {
		const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		const echoLines = (chunk: string) => {
			if (!options.echo) return;
			for (const line of chunk.split('\n')) if (line.trim()) options.echo(line);
		};
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
			stdout += chunk;
			echoLines(chunk);
		});
		child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
			stderr += chunk;
			echoLines(chunk);
		});
		const timer = options.timeoutMs
			? setTimeout(() => child.kill('SIGTERM'), options.timeoutMs)
			: undefined;
		child.on('error', (error) => {
			if (timer) clearTimeout(timer);
			reject(error);
		});
		child.on('close', (code, signal) => {
			if (timer) clearTimeout(timer);
			if (code === 0) {
				resolveRun({ stdout, stderr });
				return;
			}
			const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-30).join('\n');
			reject(new Error(`\`${command} ${args.join(' ')}\` (in ${options.cwd}) failed with ${signal ?? `exit code ${code}`}:\n${tail}`));
		});
	});
}

export function sleep(ms: number): Promise<void> {
	return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

function lockMtimeMs(lockDir: string): number {
	try {
		return statSync(lockDir).mtimeMs;
	} catch {
		return Date.now();
	}
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/**
 * Cross-process mutex on a directory (mkdir is atomic). `npm start` and an e2e run may both try
 * to install n8n or the package at the same moment; the second waits. A lock whose owner died is
 * taken over.
 */
export async function withFileLock<T>(lockDir: string, fn: () => Promise<T>, log: Log = silentLog): Promise<T> {
	mkdirSync(dirname(lockDir), { recursive: true });
	const ownerFile = join(lockDir, 'pid');
	let announced = false;
	for (;;) {
		try {
			mkdirSync(lockDir);
			writeFileSync(ownerFile, String(process.pid));
			break;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			const owner = existsSync(ownerFile) ? Number(readFileSync(ownerFile, 'utf8')) : NaN;
			const ownerless = !Number.isFinite(owner) && Date.now() - lockMtimeMs(lockDir) > 10_000;
			if ((Number.isFinite(owner) && !isAlive(owner)) || ownerless) {
				rmSync(lockDir, { recursive: true, force: true });
				continue;
			}
			if (!announced) {
				log(`waiting for another process (pid ${Number.isFinite(owner) ? owner : '?'}) holding ${lockDir}`);
				announced = true;
			}
			await sleep(500);
		}
	}
	try {
		return await fn();
	} finally {
		rmSync(lockDir, { recursive: true, force: true });
	}
}

export function seconds(sinceMs: number): number {
	return Math.round((Date.now() - sinceMs) / 100) / 10;
}
