import type { ICredentialTestFunctions, ICredentialsDecrypted, INodeCredentialTestResult } from 'n8n-workflow';

import { ComfyUiClient } from '../../../lib/comfyui';
import { comfyConfigsFromCredential } from '../transport';

/**
 * Editor "Test" button: every server of the credential answers /system_stats with these settings
 * (URL, TLS, auth) and accepts the WebSocket. The message of a failure is the client's, which says
 * what to change in the credential.
 */
export async function comfyUiApiConnectionTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	let clients: ComfyUiClient[];
	try {
		clients = comfyConfigsFromCredential(credential.data ?? {}).map((config) => new ComfyUiClient(config));
	} catch (error) {
		return { status: 'Error', message: (error as Error).message };
	}
	const results = await Promise.all(clients.map((client) => client.testConnection()));
	const failed = results.filter((r) => !r.ok);
	if (failed.length > 0) {
		const prefix = results.length > 1 ? `${failed.length} of ${results.length} servers failed. ` : '';
		return { status: 'Error', message: prefix + failed.map((r) => (results.length > 1 ? `${r.server}: ${r.message}` : r.message)).join(' | ') };
	}
	return { status: 'OK', message: results.map((r) => r.message).join(' | ') };
}
