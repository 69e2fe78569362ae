/** API-format workflows and client settings shared by the ComfyUI client tests. */
import type { ComfyServerConfigInput } from '../lib/comfyui';
import { txt2imgWorkflow, type SimFileRef } from '../dev/comfyui-sim';

export const CHECKPOINT = 'sd15.safetensors';

/** The simulator's txt2img graph with this suite's defaults (small, fast, a checkpoint of its own). */
export function txt2img(options: { seed?: number; text?: string; ckpt?: string; width?: number; steps?: number; prefix?: string } = {}) {
	return txt2imgWorkflow({
		ckptName: options.ckpt ?? CHECKPOINT,
		width: options.width ?? 512,
		seed: options.seed ?? 5,
		steps: options.steps ?? 4,
		positive: options.text ?? 'a red fox in the snow',
		filenamePrefix: options.prefix ?? 'ComfyUI',
	});
}

/** txt2img whose output is a video file (SaveVideo), for large downloads. */
export function txt2video(options: { seed?: number } = {}) {
	const base = txt2img(options);
	const { '9': _save, ...rest } = base;
	return {
		...rest,
		'10': { class_type: 'CreateVideo', inputs: { images: ['8', 0], fps: 24 } },
		'11': { class_type: 'SaveVideo', inputs: { video: ['10', 0], filename_prefix: 'video/ComfyUI', format: 'auto', codec: 'auto' } },
	};
}

/** Short waits and polls so the fault tests recover in well under a second. */
export function fastClientConfig(baseUrl: string, extra: Partial<ComfyServerConfigInput> = {}): ComfyServerConfigInput {
	return {
		baseUrl,
		historyPollIntervalMs: 250,
		fallbackPollIntervalMs: 100,
		historyRetryMs: 2_000,
		pingIntervalMs: 300,
		pongTimeoutMs: 300,
		reconnectMinDelayMs: 20,
		reconnectMaxDelayMs: 200,
		wsOpenTimeoutMs: 2_000,
		requestTimeoutMs: 5_000,
		defaultTimeoutMs: 20_000,
		...extra,
	};
}

/** An output file as the simulator's file helpers take it. */
export function simRef(file: { filename: string; subfolder?: string; type?: string }): SimFileRef {
	return { filename: file.filename, subfolder: file.subfolder, type: (file.type ?? 'output') as SimFileRef['type'] };
}

/** A self-signed certificate for 127.0.0.1/localhost (test only; valid until 2126), for the TLS tests. */
export const SELF_SIGNED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfRMlTq1uSszpvT5x
Qs+/uCGtPG1f/vjnKYCsCQeqIO2hRANCAAR50zWtAYp4faeZ19b//2MFbEH82Y/h
XYqU/yTsMtkBQJt71KQJ8QeVdVC4PXsffgLRk+9APMgNlBJWXnVgQHkN
-----END PRIVATE KEY-----
`;
export const SELF_SIGNED_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUZfJV7ei4S/MHyHx5Gt36mlNjqbcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyMjAwMzUzM1oYDzIxMjYxMDI5
MDAzNTMzWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAR50zWtAYp4faeZ19b//2MFbEH82Y/hXYqU/yTsMtkBQJt71KQJ8QeV
dVC4PXsffgLRk+9APMgNlBJWXnVgQHkNo28wbTAdBgNVHQ4EFgQU04qsKK1gOq9O
zZfZUDx97dQQwk4wHwYDVR0jBBgwFoAU04qsKK1gOq9OzZfZUDx97dQQwk4wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDSAAwRQIhAJq0Q+rIDnCnJwKHAmY2Svkwtb91VSuG/+A2vVptgfEsAiBq
XxrWKa+JblesjGzBDepmp9DAiRxM1BUl25JbDc1shA==
-----END CERTIFICATE-----
`;
