/**
 * A tiny SMTP server for e2e tests: speaks enough of RFC 5321 for nodemailer (what n8n's Send
 * Email node uses) — EHLO/HELO, AUTH PLAIN/LOGIN, MAIL FROM, RCPT TO, DATA (with dot-unstuffing),
 * RSET, NOOP, QUIT — and keeps every message it accepts. No TLS: it never offers STARTTLS.
 *
 *   const sink = await startSmtpSink();                 // 127.0.0.1, ephemeral port
 *   // SMTP credential: host 127.0.0.1, port sink.port, secure false
 *   const [mail] = await sink.waitForMessages(1);
 *   mail.headers.subject, mail.html, mail.to
 *   await sink.stop();
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface SmtpMessage {
	/** Envelope sender (MAIL FROM), without angle brackets. */
	from: string;
	/** Envelope recipients (RCPT TO). */
	to: string[];
	/** User name of a successful AUTH, if the client authenticated. */
	authUser?: string;
	/** The message as received after DATA (headers + body, dot-unstuffed, CRLF line ends). */
	raw: string;
	/** Header fields by lower-case name (unfolded; the last one wins; encoded words left as sent). */
	headers: Record<string, string>;
	/** The Subject header with RFC 2047 encoded words decoded. */
	subject: string;
	/** Decoded text/html part, when there is one. */
	html?: string;
	/** Decoded text/plain part, when there is one. */
	text?: string;
	receivedAt: Date;
}

export interface SmtpSink {
	host: string;
	port: number;
	messages: SmtpMessage[];
	/** Resolves once at least `count` messages arrived (rejects after `timeoutMs`). */
	waitForMessages(count: number, timeoutMs?: number): Promise<SmtpMessage[]>;
	/** Forget the messages received so far. */
	clear(): void;
	stop(): Promise<void>;
}

export interface SmtpSinkOptions {
	port?: number;
	/** When set, AUTH is required and must match; otherwise any AUTH (or none) is accepted. */
	credentials?: { user: string; password: string };
	/** Largest message accepted (SIZE extension; 552 above it). Default 25 MiB. */
	maxBytes?: number;
}

function parseHeaders(head: string): Record<string, string> {
	const headers: Record<string, string> = {};
	const unfolded = head.replace(/\r\n[ \t]+/g, ' ');
	for (const line of unfolded.split('\r\n')) {
		const colon = line.indexOf(':');
		if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
	}
	return headers;
}

function decodeQuotedPrintable(text: string): Buffer {
	const soft = text.replace(/=\r?\n/g, '');
	const bytes: number[] = [];
	for (let i = 0; i < soft.length; i++) {
		const c = soft[i];
		if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
			bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
			i += 2;
		} else {
			bytes.push(...Buffer.from(c, 'utf8'));
		}
	}
	return Buffer.from(bytes);
}

/** RFC 2047 encoded words (=?UTF-8?Q?...?= / =?UTF-8?B?...?=) → text. */
function decodeEncodedWords(value: string): string {
	return value
		.replace(/\?=\s+=\?/g, '?==?')
		.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_match, _charset: string, kind: string, text: string) =>
			kind.toUpperCase() === 'B'
				? Buffer.from(text, 'base64').toString('utf8')
				: decodeQuotedPrintable(text.replace(/_/g, ' ')).toString('utf8'),
		);
}

function decodeBody(body: string, encoding: string | undefined): string {
	switch ((encoding ?? '').toLowerCase()) {
		case 'base64':
			return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
		case 'quoted-printable':
			return decodeQuotedPrintable(body).toString('utf8');
		default:
			return body;
	}
}

/** Collects the text/html and text/plain parts of a (possibly multipart) MIME entity. */
function collectParts(entity: string, into: { html?: string; text?: string }): void {
	const split = entity.indexOf('\r\n\r\n');
	const head = split >= 0 ? entity.slice(0, split) : entity;
	const body = split >= 0 ? entity.slice(split + 4) : '';
	const headers = parseHeaders(head);
	const contentType = headers['content-type'] ?? 'text/plain';
	const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
	if (/^multipart\//i.test(contentType) && boundary) {
		const parts = body.split(`--${boundary}`);
		for (const part of parts.slice(1)) {
			if (part.startsWith('--')) break;
			collectParts(part.replace(/^\r\n/, ''), into);
		}
		return;
	}
	const decoded = decodeBody(body, headers['content-transfer-encoding']);
	if (/^text\/html/i.test(contentType)) into.html ??= decoded;
	else if (/^text\/plain/i.test(contentType)) into.text ??= decoded;
}

function toMessage(raw: string, envelope: { from: string; to: string[]; authUser?: string }): SmtpMessage {
	const split = raw.indexOf('\r\n\r\n');
	const headers = parseHeaders(split >= 0 ? raw.slice(0, split) : raw);
	const parts: { html?: string; text?: string } = {};
	collectParts(raw, parts);
	return { ...envelope, raw, headers, subject: decodeEncodedWords(headers.subject ?? ''), ...parts, receivedAt: new Date() };
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
	const messages: SmtpMessage[] = [];
	const waiters: Array<{ count: number; resolve: (m: SmtpMessage[]) => void }> = [];
	const sockets = new Set<Socket>();
	const maxBytes = options.maxBytes ?? 25 * 1024 * 1024;

	const deliver = (message: SmtpMessage) => {
		messages.push(message);
		for (const waiter of [...waiters]) {
			if (messages.length >= waiter.count) {
				waiters.splice(waiters.indexOf(waiter), 1);
				waiter.resolve([...messages]);
			}
		}
	};

	const server: Server = createServer((socket) => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
		socket.on('error', () => undefined);
		const reply = (line: string) => {
			if (!socket.destroyed) socket.write(`${line}\r\n`);
		};
		let buffer = '';
		let mode: 'command' | 'data' | 'authPlain' | 'authLoginUser' | 'authLoginPassword' = 'command';
		let envelope: { from: string; to: string[] } | undefined;
		let authUser: string | undefined;
		let pendingLoginUser = '';
		let data: string[] = [];
		let dataBytes = 0;

		const checkAuth = (user: string, password: string) => {
			if (options.credentials && (user !== options.credentials.user || password !== options.credentials.password)) {
				reply('535 5.7.8 Authentication credentials invalid');
				return;
			}
			authUser = user;
			reply('235 2.7.0 Authentication successful');
		};
		const authPlain = (encoded: string) => {
			const [, user = '', password = ''] = Buffer.from(encoded, 'base64').toString('utf8').split('\0');
			checkAuth(user, password);
		};

		const onLine = (line: string) => {
			if (mode === 'data') {
				if (line === '.') {
					mode = 'command';
					const raw = data.join('\r\n');
					data = [];
					if (dataBytes > maxBytes) {
						reply(`552 5.3.4 Message larger than ${maxBytes} bytes`);
					} else if (envelope) {
						deliver(toMessage(raw, { ...envelope, authUser }));
						reply(`250 2.0.0 Ok: queued as sink-${messages.length}`);
					}
					envelope = undefined;
					return;
				}
				dataBytes += line.length + 2;
				if (dataBytes <= maxBytes) data.push(line.startsWith('.') ? line.slice(1) : line);
				return;
			}
			if (mode === 'authPlain') {
				mode = 'command';
				authPlain(line.trim());
				return;
			}
			if (mode === 'authLoginUser') {
				pendingLoginUser = Buffer.from(line.trim(), 'base64').toString('utf8');
				mode = 'authLoginPassword';
				reply(`334 ${Buffer.from('Password:').toString('base64')}`);
				return;
			}
			if (mode === 'authLoginPassword') {
				mode = 'command';
				checkAuth(pendingLoginUser, Buffer.from(line.trim(), 'base64').toString('utf8'));
				return;
			}
			const [verb = '', ...rest] = line.split(' ');
			const argument = rest.join(' ');
			switch (verb.toUpperCase()) {
				case 'EHLO':
					reply('250-promptlab-smtp-sink');
					reply(`250-SIZE ${maxBytes}`);
					reply('250-8BITMIME');
					reply('250-AUTH PLAIN LOGIN');
					reply('250 SMTPUTF8');
					return;
				case 'HELO':
					reply('250 promptlab-smtp-sink');
					return;
				case 'AUTH': {
					const [mechanism = '', initial] = argument.split(' ');
					if (mechanism.toUpperCase() === 'PLAIN') {
						if (initial) authPlain(initial);
						else {
							mode = 'authPlain';
							reply('334 ');
						}
					} else if (mechanism.toUpperCase() === 'LOGIN') {
						if (initial) {
							pendingLoginUser = Buffer.from(initial, 'base64').toString('utf8');
							mode = 'authLoginPassword';
							reply(`334 ${Buffer.from('Password:').toString('base64')}`);
						} else {
							mode = 'authLoginUser';
							reply(`334 ${Buffer.from('Username:').toString('base64')}`);
						}
					} else reply('504 5.5.4 Unrecognized authentication type');
					return;
				}
				case 'MAIL': {
					if (options.credentials && !authUser) {
						reply('530 5.7.0 Authentication required');
						return;
					}
					const from = /^FROM:\s*<([^>]*)>/i.exec(argument)?.[1];
					if (from === undefined) {
						reply('501 5.5.4 Syntax: MAIL FROM:<address>');
						return;
					}
					envelope = { from, to: [] };
					reply('250 2.1.0 Ok');
					return;
				}
				case 'RCPT': {
					const to = /^TO:\s*<([^>]+)>/i.exec(argument)?.[1];
					if (!envelope) reply('503 5.5.1 Need MAIL command');
					else if (!to) reply('501 5.5.4 Syntax: RCPT TO:<address>');
					else {
						envelope.to.push(to);
						reply('250 2.1.5 Ok');
					}
					return;
				}
				case 'DATA':
					if (!envelope || envelope.to.length === 0) {
						reply('503 5.5.1 Need RCPT command');
						return;
					}
					mode = 'data';
					data = [];
					dataBytes = 0;
					reply('354 End data with <CR><LF>.<CR><LF>');
					return;
				case 'RSET':
					envelope = undefined;
					reply('250 2.0.0 Ok');
					return;
				case 'NOOP':
					reply('250 2.0.0 Ok');
					return;
				case 'QUIT':
					reply('221 2.0.0 Bye');
					socket.end();
					return;
				default:
					reply('502 5.5.2 Command not recognized');
			}
		};

		socket.setEncoding('utf8');
		socket.on('data', (chunk: string) => {
			buffer += chunk;
			let end: number;
			while ((end = buffer.indexOf('\r\n')) >= 0) {
				const line = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				onLine(line);
			}
		});
		reply('220 promptlab-smtp-sink ESMTP ready');
	});

	server.listen(options.port ?? 0, '127.0.0.1');
	await once(server, 'listening');
	const port = (server.address() as AddressInfo).port;

	return {
		host: '127.0.0.1',
		port,
		messages,
		waitForMessages: (count, timeoutMs = 30_000) => {
			if (messages.length >= count) return Promise.resolve([...messages]);
			return new Promise((resolveWait, reject) => {
				const waiter = {
					count,
					resolve: (received: SmtpMessage[]) => {
						clearTimeout(timer);
						resolveWait(received);
					},
				};
				const timer = setTimeout(() => {
					waiters.splice(waiters.indexOf(waiter), 1);
					reject(new Error(`SMTP sink: ${messages.length} of ${count} messages after ${timeoutMs} ms`));
				}, timeoutMs);
				waiters.push(waiter);
			});
		},
		clear: () => {
			messages.length = 0;
		},
		stop: async () => {
			for (const socket of sockets) socket.destroy();
			await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
		},
	};
}
