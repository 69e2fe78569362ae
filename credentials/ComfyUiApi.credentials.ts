import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

/**
 * One ComfyUI server, or several with the same authentication (a pool: each job goes to the
 * healthy server with the shortest queue). Not an HTTP-request credential: the ComfyUI client
 * (lib/comfyui) applies the auth itself, to HTTP and to the WebSocket alike, so it is tested from
 * the editor by the node's `comfyUiApiConnectionTest` (GET /system_stats, then the WebSocket).
 */
export class ComfyUiApi implements ICredentialType {
	name = 'comfyUiApi';

	displayName = 'ComfyUI API';

	documentationUrl = 'https://github.com/promptlab/n8n-nodes-promptlab#comfyui-api-credential';

	icon: Icon = { light: 'file:icons/comfyUiApi.svg', dark: 'file:icons/comfyUiApi.dark.svg' };

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'http://127.0.0.1:8188',
			required: true,
			placeholder: 'e.g. http://127.0.0.1:8188 or https://gpu.example.com/comfy',
			description:
				'Address of the ComfyUI server, as you open it in the browser. A path prefix (reverse proxy) is kept; no query string, no user:password.',
		},
		{
			displayName: 'Additional Server URLs',
			name: 'additionalServers',
			type: 'string',
			default: '',
			placeholder: 'e.g. http://10.0.0.2:8188, http://10.0.0.3:8188',
			description:
				'More ComfyUI servers with the same authentication, comma-separated. Together with the Base URL they form a pool: each job runs on the healthy server with the shortest queue.',
		},
		{
			displayName: 'Authentication',
			name: 'authentication',
			type: 'options',
			options: [
				{ name: 'None', value: 'none', description: 'ComfyUI as it ships (no login)' },
				{ name: 'Bearer Token', value: 'bearer', description: 'Authorization: Bearer (ComfyUI-Login, most proxies)' },
				{ name: 'Basic Auth', value: 'basic', description: 'User and password (nginx/Caddy basic auth)' },
				{ name: 'Custom Header', value: 'header', description: 'A header such as X-API-Key' },
				{ name: 'Query Token', value: 'query', description: 'A ?token=... parameter (RunPod-style proxies)' },
			],
			default: 'none',
		},
		{
			displayName: 'Token',
			name: 'token',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['bearer'] } },
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: '',
			displayOptions: { show: { authentication: ['basic'] } },
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['basic'] } },
		},
		{
			displayName: 'Header Name',
			name: 'headerName',
			type: 'string',
			default: 'X-API-Key',
			displayOptions: { show: { authentication: ['header'] } },
		},
		{
			displayName: 'Header Value',
			name: 'headerValue',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['header'] } },
		},
		{
			displayName: 'Query Parameter Name',
			name: 'queryName',
			type: 'string',
			default: 'token',
			displayOptions: { show: { authentication: ['query'] } },
		},
		{
			displayName: 'Query Token',
			name: 'queryValue',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: { show: { authentication: ['query'] } },
		},
		{
			displayName: 'Allow Self-Signed Certificates',
			name: 'allowSelfSigned',
			type: 'boolean',
			default: false,
			description: 'Whether to accept an HTTPS certificate that no known authority signed (a home lab, a private network)',
		},
		{
			displayName: 'Comfy.org API Key',
			name: 'comfyOrgApiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description:
				'Optional. Only for workflows with Comfy.org API (partner) nodes: sent inside extra_data of each job, never as a header and never logged.',
		},
		{
			displayName: 'API Prefix',
			name: 'apiPrefix',
			type: 'options',
			options: [
				{ name: '/api (ComfyUI Since Mid-2024)', value: '/api' },
				{ name: 'None (Older ComfyUI)', value: '' },
			],
			default: '/api',
			description: 'Where the server answers /prompt, /history and /ws. Keep the default unless the credential test says the server is older.',
		},
	];
}
