/**
 * Queue-mode e2e tests need a running Redis. The tests never install or start one (`npm test`
 * must not run apt-get): .ci/run does that on CI; elsewhere a missing Redis fails at once with a
 * message naming the Debian package, instead of an n8n that never gets ready.
 */
import { connect } from 'node:net';

/**
 * Resolves when something at host:port answers Redis' PING (`+PONG`, or an authentication error,
 * which still proves a Redis is there); rejects with instructions otherwise.
 */
export async function requireRedis(host: string, port: number, timeoutMs = 3000): Promise<void> {
	const problem = await new Promise<string | undefined>((resolve) => {
		const socket = connect({ host, port });
		let answer = '';
		const finish = (result: string | undefined) => {
			clearTimeout(timer);
			socket.destroy();
			resolve(result);
		};
		const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
		socket.on('connect', () => socket.write('PING\r\n'));
		socket.on('data', (chunk) => {
			answer += chunk.toString('latin1');
			if (!answer.includes('\r\n')) return;
			finish(/^(\+PONG|-NOAUTH|-WRONGPASS)/.test(answer) ? undefined : `it answered ${JSON.stringify(answer.trim().slice(0, 80))}, not Redis' PONG`);
		});
		socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
		socket.on('close', () => finish('the connection closed without an answer'));
	});
	if (problem === undefined) return;
	throw new Error(
		`No Redis at ${host}:${port} (${problem}): queue-mode e2e tests need one. On Debian/Ubuntu install and start ` +
			`the "redis-server" package (apt-get install redis-server; .ci/run does both), or point REDIS_HOST/REDIS_PORT at a Redis.`,
	);
}
