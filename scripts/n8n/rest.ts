/**
 * The part of n8n 2.8.4's internal REST API (/rest, the one the editor uses) that the start script
 * and the e2e tests need: owner setup, login (cookie session), credentials, workflows, publish
 * ("activate"), node types. Sources: n8n@2.8.4 dist/controllers/owner.controller.js,
 * auth.controller.js, credentials/credentials.controller.js, workflows/workflows.controller.js.
 */
export interface OwnerAccount {
	email: string;
	password: string;
	firstName: string;
	lastName: string;
}

export interface CredentialSummary {
	id: string;
	name: string;
	type: string;
}

export interface WorkflowNode {
	id?: string;
	name: string;
	type: string;
	typeVersion: number;
	position: [number, number];
	parameters: Record<string, unknown>;
	credentials?: Record<string, { id: string | null; name: string }>;
	webhookId?: string;
	disabled?: boolean;
	[key: string]: unknown;
}

export interface WorkflowJson {
	id?: string;
	name: string;
	nodes: WorkflowNode[];
	connections: Record<string, unknown>;
	settings?: Record<string, unknown>;
	active?: boolean;
	[key: string]: unknown;
}

export interface StoredWorkflow extends WorkflowJson {
	id: string;
	versionId: string;
	active: boolean;
	activeVersionId?: string | null;
}

/** n8n's own description of a node type, as /types/nodes.json serves it to the editor. */
export interface NodeTypeDescription {
	name: string;
	displayName: string;
	version: number | number[];
	description?: string;
	group?: string[];
	credentials?: Array<{ name: string; required?: boolean }>;
	properties?: Array<{ name: string; displayName: string; type: string }>;
	[key: string]: unknown;
}

export interface CredentialTypeDescription {
	name: string;
	displayName: string;
	properties: Array<{ name: string; type: string; default?: unknown }>;
	[key: string]: unknown;
}

export class N8nApiError extends Error {
	constructor(
		message: string,
		readonly status: number,
		readonly body: string,
	) {
		super(message);
	}
}

/** A logged-in session against one n8n main process. */
export class N8nRestClient {
	private cookie = '';

	/** n8n binds the auth cookie to this header (auth.service.js validateBrowserId). */
	private readonly browserId = `promptlab-scripts-${process.pid}`;

	constructor(readonly baseUrl: string) {}

	/** Creates the owner on a fresh instance, otherwise logs in as that owner. */
	static async connect(baseUrl: string, owner: OwnerAccount): Promise<{ client: N8nRestClient; ownerCreated: boolean }> {
		const client = new N8nRestClient(baseUrl.replace(/\/$/, ''));
		const settings = await client.request<{ userManagement: { showSetupOnFirstLoad?: boolean } }>('GET', '/rest/settings');
		if (settings.userManagement.showSetupOnFirstLoad) {
			await client.request('POST', '/rest/owner/setup', owner);
			return { client, ownerCreated: true };
		}
		await client.login(owner.email, owner.password);
		return { client, ownerCreated: false };
	}

	async login(email: string, password: string): Promise<void> {
		await this.request('POST', '/rest/login', { emailOrLdapLoginId: email, password });
	}

	/** Raw request; returns the parsed body's `data` (n8n wraps REST answers in `{ data }`). */
	async request<T = unknown>(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<T> {
		const url = new URL(`${this.baseUrl}${path}`);
		for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
		const response = await fetch(url, {
			method,
			headers: {
				accept: 'application/json',
				'browser-id': this.browserId,
				...(body === undefined ? {} : { 'content-type': 'application/json' }),
				...(this.cookie ? { cookie: this.cookie } : {}),
			},
			body: body === undefined ? undefined : JSON.stringify(body),
			signal: AbortSignal.timeout(60_000),
		});
		const setCookie = response.headers.getSetCookie();
		const auth = setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith('n8n-auth='));
		if (auth) this.cookie = auth;
		const text = await response.text();
		if (!response.ok) {
			throw new N8nApiError(`${method} ${path} → ${response.status}: ${text.slice(0, 500)}`, response.status, text);
		}
		if (!text) return undefined as T;
		const parsed = JSON.parse(text) as { data?: T } | T;
		return (parsed && typeof parsed === 'object' && 'data' in parsed ? parsed.data : parsed) as T;
	}

	/** The session cookie, e.g. to hand to a browser context. */
	get authCookie(): { name: string; value: string } | undefined {
		if (!this.cookie) return undefined;
		const [name, ...rest] = this.cookie.split('=');
		return { name, value: rest.join('=') };
	}

	async nodeTypes(): Promise<NodeTypeDescription[]> {
		return this.request<NodeTypeDescription[]>('GET', '/types/nodes.json');
	}

	async credentialTypes(): Promise<CredentialTypeDescription[]> {
		return this.request<CredentialTypeDescription[]>('GET', '/types/credentials.json');
	}

	async listCredentials(): Promise<CredentialSummary[]> {
		return this.request<CredentialSummary[]>('GET', '/rest/credentials');
	}

	/** Creates the credential, or updates the data of the one with the same name and type. */
	async upsertCredential(name: string, type: string, data: Record<string, unknown>): Promise<CredentialSummary> {
		const existing = (await this.listCredentials()).find((c) => c.name === name && c.type === type);
		if (existing) {
			return this.request<CredentialSummary>('PATCH', `/rest/credentials/${existing.id}`, { name, type, data });
		}
		return this.request<CredentialSummary>('POST', '/rest/credentials', { name, type, data });
	}

	async workflowExists(id: string): Promise<boolean> {
		return (await this.request<{ exists: boolean }>('GET', `/rest/workflows/${id}/exists`)).exists;
	}

	async getWorkflow(id: string): Promise<StoredWorkflow> {
		return this.request<StoredWorkflow>('GET', `/rest/workflows/${id}`);
	}

	async listWorkflows(): Promise<StoredWorkflow[]> {
		return this.request<StoredWorkflow[]>('GET', '/rest/workflows');
	}

	/**
	 * Creates the workflow under its own id (so re-imports update instead of duplicating), or
	 * replaces nodes/connections/settings of the existing one. Returns the stored draft.
	 */
	async upsertWorkflow(workflow: WorkflowJson & { id: string }): Promise<StoredWorkflow> {
		const body = {
			name: workflow.name,
			nodes: workflow.nodes,
			connections: workflow.connections,
			settings: workflow.settings ?? { executionOrder: 'v1' },
			...(workflow.pinData ? { pinData: workflow.pinData } : {}),
		};
		if (await this.workflowExists(workflow.id)) {
			return this.request<StoredWorkflow>('PATCH', `/rest/workflows/${workflow.id}`, body, { forceSave: 'true' });
		}
		return this.request<StoredWorkflow>('POST', '/rest/workflows', { ...body, id: workflow.id });
	}

	/** n8n 2.x "Publish": makes this version the active one and registers its production webhooks. */
	async activateWorkflow(id: string, versionId: string): Promise<StoredWorkflow> {
		return this.request<StoredWorkflow>('POST', `/rest/workflows/${id}/activate`, { versionId });
	}

	async deactivateWorkflow(id: string): Promise<StoredWorkflow> {
		return this.request<StoredWorkflow>('POST', `/rest/workflows/${id}/deactivate`, {});
	}

	/** Executions list (newest first) for assertions and diagnostics. */
	async listExecutions(workflowId?: string): Promise<Array<{ id: string; status: string; workflowId: string; mode: string }>> {
		const filter = workflowId ? { filter: JSON.stringify({ workflowId }) } : undefined;
		const result = await this.request<{ results: Array<{ id: string; status: string; workflowId: string; mode: string }> }>(
			'GET',
			'/rest/executions',
			undefined,
			filter,
		);
		return result.results;
	}
}
