import { createHash } from 'node:crypto';
import { z } from 'zod';

import { UpstreamError } from '../errors';

/**
 * Connection data for one ComfyUI server. The n8n credential "ComfyUI API" maps onto this;
 * everything except baseUrl has a default, so `{ baseUrl }` alone is a valid config.
 */
const comfyAuthSchema = z.discriminatedUnion('type', [
	z.object({ type: z.literal('none') }),
	z.object({ type: z.literal('bearer'), token: z.string().min(1, 'Bearer token is required') }),
	z.object({
		type: z.literal('basic'),
		username: z.string().min(1, 'User name is required'),
		password: z.string().default(''),
	}),
	z.object({
		type: z.literal('header'),
		name: z
			.string()
			.trim()
			.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'Header name must be a valid HTTP header name (e.g. X-API-Key)'),
		value: z.string().min(1, 'Header value is required'),
	}),
	z.object({
		type: z.literal('query'),
		name: z.string().trim().min(1).default('token'),
		value: z.string().min(1, 'Query token is required'),
	}),
]);

export type ComfyAuth = z.infer<typeof comfyAuthSchema>;

const baseUrlSchema = z
	.string()
	.trim()
	.min(1, 'Base URL is required')
	.transform((value, ctx) => {
		let url: URL;
		try {
			url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
		} catch {
			ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${value}" is not a URL (e.g. http://127.0.0.1:8188)` });
			return z.NEVER;
		}
		if (url.protocol !== 'http:' && url.protocol !== 'https:') {
			ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'Base URL must start with http:// or https://' });
			return z.NEVER;
		}
		if (url.username || url.password) {
			ctx.addIssue({
				code: z.ZodIssueCode.custom,
				message: 'Do not put a user or password in the base URL; use the Basic auth fields',
			});
			return z.NEVER;
		}
		if (url.search || url.hash) {
			ctx.addIssue({
				code: z.ZodIssueCode.custom,
				message: 'Base URL must not contain a query or #fragment; use the query-token auth for ?token=',
			});
			return z.NEVER;
		}
		// Keep an optional path prefix (reverse proxies), drop trailing slashes.
		return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
	});

const ms = (defaultMs: number, min = 1) => z.coerce.number().int().min(min).default(defaultMs);

const comfyServerConfigSchema = z.object({
	baseUrl: baseUrlSchema,
	auth: comfyAuthSchema.default({ type: 'none' }),
	allowSelfSigned: z.boolean().default(false),
	/** Sent only as extra_data.api_key_comfy_org of POST /prompt (Partner/API nodes); never in headers or logs. */
	comfyOrgApiKey: z
		.string()
		.trim()
		.optional()
		.transform((v) => (v ? v : undefined)),
	/** '/api' (the frontend's form, what proxies expect) or '' for servers older than mid-2024. */
	apiPrefix: z.enum(['/api', '']).default('/api'),
	/** Time to get response headers from a JSON endpoint. */
	requestTimeoutMs: ms(30_000),
	connectTimeoutMs: ms(10_000),
	/** How long a submit waits for the WebSocket before running on history polling alone. */
	wsOpenTimeoutMs: ms(5_000),
	pingIntervalMs: ms(15_000),
	pongTimeoutMs: ms(10_000),
	reconnectMinDelayMs: ms(250),
	reconnectMaxDelayMs: ms(10_000),
	/** The slow /history poll that runs beside an open WebSocket. */
	historyPollIntervalMs: ms(5_000),
	/** The /history poll while the WebSocket is down. */
	fallbackPollIntervalMs: ms(1_000),
	/** How long /history may still be `{}` after a terminal WS event before the normal poll takes over. */
	historyRetryMs: ms(5_000),
	/** Longest silence between two chunks of a download. */
	downloadIdleTimeoutMs: ms(120_000),
	/** Job timeout when waitForCompletion/run gets none. */
	defaultTimeoutMs: ms(10 * 60_000),
	maxConnections: z.coerce.number().int().min(1).max(256).default(32),
});

export type ComfyServerConfig = z.infer<typeof comfyServerConfigSchema>;
export type ComfyServerConfigInput = z.input<typeof comfyServerConfigSchema>;

/** Validates credential data; the error lists each bad field by name. */
export function parseComfyServerConfig(input: unknown): ComfyServerConfig {
	const result = comfyServerConfigSchema.safeParse(input);
	if (!result.success) {
		const issues = result.error.issues.map((i) => ({ field: i.path.join('.') || 'credential', message: i.message }));
		// The credential is the server's configuration, not the caller's input: no `field`, and a 503 for webhooks.
		throw new UpstreamError('comfyui_misconfigured', `Invalid ComfyUI API credential: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, {
			hint: 'Fix the ComfyUI API credential.',
			details: { issues },
		});
	}
	return result.data;
}

/** Accepts a parsed config or raw input (tests, scripts). */
export function toComfyServerConfig(input: ComfyServerConfig | ComfyServerConfigInput | string): ComfyServerConfig {
	return parseComfyServerConfig(typeof input === 'string' ? { baseUrl: input } : input);
}

/**
 * Key of the per-process connection cache: what changes the sockets (URL, auth, TLS, prefix,
 * connection limits). Timeouts that only govern waits are read from the caller's config.
 */
export function connectionKey(config: ComfyServerConfig): string {
	return createHash('sha256')
		.update(
			JSON.stringify([
				config.baseUrl,
				config.apiPrefix,
				config.auth,
				config.allowSelfSigned,
				config.maxConnections,
				config.connectTimeoutMs,
				config.pingIntervalMs,
				config.pongTimeoutMs,
				config.reconnectMinDelayMs,
				config.reconnectMaxDelayMs,
			]),
		)
		.digest('hex');
}
