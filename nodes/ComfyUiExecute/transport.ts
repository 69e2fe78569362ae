import type { ICredentialDataDecryptedObject, IExecuteFunctions, ILoadOptionsFunctions } from 'n8n-workflow';

import { ComfyServerPool, parseComfyServerConfig, type ComfyAuth, type ComfyServerConfig } from '../../lib/comfyui';
import { UpstreamError } from '../../lib/errors';

export const COMFY_CREDENTIAL = 'comfyUiApi';

function text(data: ICredentialDataDecryptedObject, key: string): string {
	const value = data[key];
	return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

function authFromCredential(data: ICredentialDataDecryptedObject): ComfyAuth {
	switch (text(data, 'authentication') || 'none') {
		case 'bearer':
			return { type: 'bearer', token: text(data, 'token') };
		case 'basic':
			return { type: 'basic', username: text(data, 'user'), password: text(data, 'password') };
		case 'header':
			return { type: 'header', name: text(data, 'headerName'), value: text(data, 'headerValue') };
		case 'query':
			return { type: 'query', name: text(data, 'queryName') || 'token', value: text(data, 'queryValue') };
		default:
			return { type: 'none' };
	}
}

/** Comma- (or newline-) separated URLs, trimmed, empty entries dropped. */
export function parseServerList(value: string): string[] {
	return value
		.split(/[,\n]/)
		.map((s) => s.trim())
		.filter((s) => s.length > 0);
}

/**
 * Credential data → one config per server (Base URL first, then the additional servers), all with
 * the same auth, TLS and Comfy.org key. Invalid data fails with the field named (lib's zod messages).
 */
export function comfyConfigsFromCredential(data: ICredentialDataDecryptedObject): ComfyServerConfig[] {
	const shared = {
		auth: authFromCredential(data),
		allowSelfSigned: data.allowSelfSigned === true,
		comfyOrgApiKey: text(data, 'comfyOrgApiKey') || undefined,
		apiPrefix: data.apiPrefix === '' ? '' : '/api',
	};
	const urls = [text(data, 'baseUrl'), ...parseServerList(text(data, 'additionalServers'))];
	return urls.map((baseUrl, index) => {
		try {
			return parseComfyServerConfig({ ...shared, baseUrl });
		} catch (error) {
			const which = index === 0 ? 'Base URL' : `Additional Server URLs (entry ${index}: "${baseUrl}")`;
			throw new UpstreamError('comfyui_misconfigured', `${(error as Error).message} [credential field: ${which}]`, {
				hint: `Fix the ${which} field of the ComfyUI API credential.`,
				details: { credentialField: which },
				cause: error,
			});
		}
	});
}

/**
 * The server pool for the node's ComfyUI credential. Cheap to build per execution: sockets, agents
 * and health marks are cached per server and process inside lib/comfyui.
 */
export async function comfyPool(this: IExecuteFunctions | ILoadOptionsFunctions): Promise<ComfyServerPool> {
	const data = await this.getCredentials(COMFY_CREDENTIAL);
	return new ComfyServerPool(comfyConfigsFromCredential(data));
}
