import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

import { Agent, request, type Dispatcher } from 'undici';
import type { ClientOptions as WsClientOptions } from 'ws';

import type { ComfyAuth, ComfyServerConfig } from './config';
import { ComfyUiError } from './errors';

export type QueryParams = Record<string, string | number | boolean | undefined>;

export interface SendOptions {
	query?: QueryParams;
	/** Serialised as JSON with Content-Type application/json. */
	json?: unknown;
	body?: Buffer | string | Readable;
	headers?: Record<string, string>;
	signal?: AbortSignal;
	/** Time to response headers; default config.requestTimeoutMs. */
	timeoutMs?: number;
	/** Longest silence between body chunks; default = timeoutMs. */
	bodyTimeoutMs?: number;
	/** GET/HEAD only: retry once when a kept-alive socket was closed under us. */
	retryOnReset?: boolean;
}

export interface RawResponse {
	statusCode: number;
	headers: IncomingHttpHeaders;
	body: Dispatcher.ResponseData['body'];
	url: URL;
}

const CONNECT_ERROR_CODES = new Set([
	'ECONNREFUSED',
	'ENOTFOUND',
	'EAI_AGAIN',
	'EHOSTUNREACH',
	'ENETUNREACH',
	'EADDRNOTAVAIL',
	'UND_ERR_CONNECT_TIMEOUT',
]);
const RESET_ERROR_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);
const TLS_ERROR_CODES = new Set([
	'DEPTH_ZERO_SELF_SIGNED_CERT',
	'SELF_SIGNED_CERT_IN_CHAIN',
	'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
	'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
	'CERT_HAS_EXPIRED',
	'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function errorCode(error: unknown): string | undefined {
	let current: unknown = error;
	for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
		const code = (current as { code?: unknown }).code;
		if (typeof code === 'string') return code;
		current = (current as { cause?: unknown }).cause;
	}
	return undefined;
}

export function isAbortError(error: unknown): boolean {
	return (
		error instanceof Error &&
		(error.name === 'AbortError' || (error as { code?: unknown }).code === 'UND_ERR_ABORTED')
	);
}

/** Hint shown with every auth failure; it says what to change in the credential. */
function authHint(auth: ComfyAuth, redirectedToLogin: boolean): string {
	if (redirectedToLogin) {
		return (
			'The server redirects to a login page (ComfyUI-Login or an auth proxy): in the ComfyUI API credential ' +
			'choose Bearer auth (or a query token named "token") with the token the server prints at startup.'
		);
	}
	switch (auth.type) {
		case 'none':
			return 'The server requires authentication: set Bearer, Basic, header or query-token auth in the ComfyUI API credential.';
		case 'bearer':
			return 'The server refused the Bearer token: check the token in the ComfyUI API credential.';
		case 'basic':
			return 'The server refused the user name or password: check the Basic auth fields of the ComfyUI API credential.';
		case 'header':
			return `The server refused the "${auth.name}" header: check its name and value in the ComfyUI API credential.`;
		case 'query':
			return `The server refused the "${auth.name}" query token: check it in the ComfyUI API credential.`;
	}
}

/**
 * HTTP access to one ComfyUI server: a keep-alive undici Agent, auth applied in one place
 * (`decorate`), redirects never followed on API calls (a redirect to /login is an auth failure),
 * network failures mapped to ComfyUiError with the fix in the message.
 */
export class ComfyHttp {
	readonly server: string;
	private readonly origin: string;
	private readonly agent: Agent;

	constructor(private readonly config: ComfyServerConfig) {
		this.server = config.baseUrl;
		this.origin = new URL(config.baseUrl).origin;
		this.agent = new Agent({
			connections: config.maxConnections,
			keepAliveTimeout: 30_000,
			keepAliveMaxTimeout: 60_000,
			connect: { rejectUnauthorized: !config.allowSelfSigned, timeout: config.connectTimeoutMs },
		});
	}

	/** baseUrl + API prefix + path, with query parameters URL-encoded and the query token added. */
	apiUrl(path: string, query?: QueryParams): URL {
		const url = new URL(`${this.config.baseUrl}${this.config.apiPrefix}${path}`);
		if (query) {
			for (const [key, value] of Object.entries(query)) {
				if (value !== undefined) url.searchParams.set(key, String(value));
			}
		}
		return this.decorateUrl(url);
	}

	private decorateUrl(url: URL): URL {
		if (this.config.auth.type === 'query') url.searchParams.set(this.config.auth.name, this.config.auth.value);
		return url;
	}

	/** The only place auth headers are built (HTTP and WebSocket). No Origin header: ComfyUI 403s a mismatch. */
	authHeaders(): Record<string, string> {
		const auth = this.config.auth;
		switch (auth.type) {
			case 'bearer':
				return { authorization: `Bearer ${auth.token}` };
			case 'basic':
				return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
			case 'header':
				return { [auth.name.toLowerCase()]: auth.value };
			default:
				return {};
		}
	}

	wsUrl(clientId: string): string {
		const url = this.apiUrl('/ws', { clientId });
		url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
		return url.toString();
	}

	wsOptions(): WsClientOptions {
		return {
			headers: this.authHeaders(),
			rejectUnauthorized: !this.config.allowSelfSigned,
			handshakeTimeout: this.config.connectTimeoutMs,
			perMessageDeflate: false,
			followRedirects: false,
		};
	}

	get auth(): ComfyAuth {
		return this.config.auth;
	}

	/**
	 * Sends one request. Network failures, auth failures (401/403, redirect to a login page) and
	 * 413 throw; every other status is returned with an unread body the caller must consume.
	 */
	async send(method: string, path: string | URL, options: SendOptions = {}): Promise<RawResponse> {
		const url = typeof path === 'string' ? this.apiUrl(path, options.query) : path;
		// Auth goes only to the configured server, never to a host a download redirects to.
		const sameServer = url.origin === this.origin;
		const headers: Record<string, string> = { ...(sameServer ? this.authHeaders() : {}), ...options.headers };
		let body = options.body;
		if (options.json !== undefined) {
			body = JSON.stringify(options.json);
			headers['content-type'] = 'application/json';
		}
		const timeoutMs = options.timeoutMs ?? this.config.requestTimeoutMs;
		let attempt = 0;
		for (;;) {
			attempt++;
			let response: Dispatcher.ResponseData;
			try {
				response = await request(url, {
					dispatcher: this.agent,
					method: method as Dispatcher.HttpMethod,
					headers,
					body,
					signal: options.signal,
					headersTimeout: timeoutMs,
					bodyTimeout: options.bodyTimeoutMs ?? timeoutMs,
				});
			} catch (error) {
				if (isAbortError(error)) throw error;
				const code = errorCode(error);
				if (options.retryOnReset && attempt === 1 && code && RESET_ERROR_CODES.has(code)) continue;
				throw this.networkError(error, code, method, url);
			}
			const { statusCode } = response;
			if (statusCode >= 300 && statusCode < 400) {
				const location = String(response.headers.location ?? '');
				if (/\/login\b/i.test(location)) {
					await response.body.dump().catch(() => undefined);
					throw new ComfyUiError('comfyui_auth_failed', `ComfyUI at ${this.server} redirected ${method} ${url.pathname} to ${location}`, {
						server: this.server,
						upstreamStatus: statusCode,
						hint: authHint(this.config.auth, true),
					});
				}
				return { statusCode, headers: response.headers, body: response.body, url };
			}
			if (statusCode === 401 || statusCode === 403) {
				const text = await readText(response.body, 2_000);
				throw new ComfyUiError(
					'comfyui_auth_failed',
					`ComfyUI at ${this.server} answered ${statusCode} to ${method} ${url.pathname}${text ? `: ${text}` : ''}`,
					{ server: this.server, upstreamStatus: statusCode, hint: authHint(this.config.auth, false) },
				);
			}
			if (statusCode === 413) {
				await response.body.dump().catch(() => undefined);
				throw new ComfyUiError(
					'comfyui_payload_too_large',
					`ComfyUI at ${this.server} refused the request body as too large (413) on ${method} ${url.pathname}`,
					{
						server: this.server,
						upstreamStatus: 413,
						hint: 'Raise ComfyUI\'s --max-upload-size (default 100 MB; it limits every request body, including the workflow JSON) or send a smaller workflow/image.',
					},
				);
			}
			return { statusCode, headers: response.headers, body: response.body, url };
		}
	}

	/** A JSON endpoint: any non-2xx (other than the ones send() maps) is a server_error/bad_response. */
	async json<T = unknown>(method: string, path: string, options: SendOptions = {}): Promise<T> {
		const response = await this.send(method, path, { retryOnReset: method === 'GET', ...options });
		return this.readJson<T>(response, method);
	}

	/** Endpoints that answer 200 with an empty body (POST /queue, /interrupt, /history, /free). */
	async empty(method: string, path: string, options: SendOptions = {}): Promise<void> {
		const response = await this.send(method, path, options);
		const text = await readText(response.body, 4_000);
		if (response.statusCode >= 200 && response.statusCode < 300) return;
		throw this.statusError(response, method, text);
	}

	async readJson<T>(response: RawResponse, method: string): Promise<T> {
		const text = await readText(response.body);
		if (response.statusCode < 200 || response.statusCode >= 300) throw this.statusError(response, method, text);
		const contentType = String(response.headers['content-type'] ?? '');
		if (contentType.includes('text/html') || /^\s*</.test(text)) throw this.htmlError(response, method, text);
		try {
			return JSON.parse(text) as T;
		} catch (error) {
			throw new ComfyUiError(
				'comfyui_bad_response',
				`ComfyUI at ${this.server} sent invalid JSON for ${method} ${response.url.pathname}: ${text.slice(0, 200)}`,
				{ server: this.server, upstreamStatus: response.statusCode, cause: error },
			);
		}
	}

	statusError(response: RawResponse, method: string, text: string): ComfyUiError {
		const status = response.statusCode;
		const what = `${method} ${response.url.pathname}`;
		const excerpt = text.trim().slice(0, 500);
		if (status >= 300 && status < 400) {
			return new ComfyUiError('comfyui_bad_response', `ComfyUI at ${this.server} redirected ${what} (${status})`, {
				server: this.server,
				upstreamStatus: status,
				hint: 'Set the base URL to where the server redirects (for example https:// instead of http://).',
			});
		}
		if (status === 404) {
			return new ComfyUiError('comfyui_bad_response', `ComfyUI at ${this.server} has no ${what} (404)`, {
				server: this.server,
				upstreamStatus: status,
				hint:
					this.config.apiPrefix === '/api'
						? 'Check the base URL; servers older than mid-2024 need the API prefix set to none.'
						: 'Check the base URL.',
			});
		}
		if (status >= 500) {
			return new ComfyUiError('comfyui_server_error', `ComfyUI at ${this.server} failed on ${what} with ${status}${excerpt ? `: ${excerpt}` : ''}`, {
				server: this.server,
				upstreamStatus: status,
			});
		}
		return new ComfyUiError('comfyui_bad_response', `ComfyUI at ${this.server} answered ${status} to ${what}${excerpt ? `: ${excerpt}` : ''}`, {
			server: this.server,
			upstreamStatus: status,
		});
	}

	private htmlError(response: RawResponse, method: string, text: string): ComfyUiError {
		const looksLikeLogin = /login|password|sign in/i.test(text);
		if (looksLikeLogin) {
			return new ComfyUiError('comfyui_auth_failed', `ComfyUI at ${this.server} answered ${method} ${response.url.pathname} with a login page`, {
				server: this.server,
				upstreamStatus: response.statusCode,
				hint: authHint(this.config.auth, true),
			});
		}
		return new ComfyUiError(
			'comfyui_bad_response',
			`${this.server} answered ${method} ${response.url.pathname} with an HTML page instead of ComfyUI's JSON`,
			{ server: this.server, upstreamStatus: response.statusCode, hint: 'Check that the base URL points at ComfyUI itself.' },
		);
	}

	private networkError(error: unknown, code: string | undefined, method: string, url: URL): ComfyUiError {
		const reason = error instanceof Error ? error.message : String(error);
		if (code && TLS_ERROR_CODES.has(code)) {
			return new ComfyUiError('comfyui_unreachable', `TLS certificate of ${this.server} is not trusted (${code})`, {
				server: this.server,
				requestSent: false,
				cause: error,
				hint: 'Enable "Allow self-signed certificates" in the ComfyUI API credential if you trust this server.',
			});
		}
		const notSent = code !== undefined && CONNECT_ERROR_CODES.has(code);
		const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
		return new ComfyUiError(
			'comfyui_unreachable',
			timedOut
				? `ComfyUI at ${this.server} did not answer ${method} ${url.pathname} in time (${code})`
				: `Cannot reach ComfyUI at ${this.server} (${method} ${url.pathname}): ${code ?? reason}`,
			{ server: this.server, requestSent: !notSent, cause: error },
		);
	}

	async close(): Promise<void> {
		await this.agent.close().catch(() => this.agent.destroy().catch(() => undefined));
	}
}

/** Reads a body as text, at most `limit` characters kept (the rest is drained). */
export async function readText(body: Dispatcher.ResponseData['body'], limit = Infinity): Promise<string> {
	if (limit === Infinity) return body.text();
	let text = '';
	for await (const chunk of body) {
		if (text.length < limit) text += Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
	}
	return text.length > limit ? text.slice(0, limit) : text;
}
