/**
 * Runs workflow JSON through n8n-core's real WorkflowExecute inside jest (no full n8n needed),
 * following ../shared/research/n8n-nodes.md §3.3. Nodes get real execution contexts: parameters,
 * expressions, credentials, continueOnFail, paired items and binary data behave as in n8n.
 */
import { Container } from '@n8n/di';
import { ExecutionLifecycleHooks, WorkflowExecute } from 'n8n-core';
import { SSHClientsManager } from 'n8n-core/dist/execution-engine/ssh-clients-manager';
import {
	createRunExecutionData,
	ICredentialsHelper,
	NodeConnectionTypes,
	NodeHelpers,
	Workflow,
	type ICredentialDataDecryptedObject,
	type IExecuteFunctions,
	type IHttpRequestOptions,
	type INodeExecutionData,
	type INodeParameters,
	type INodeType,
	type INodeTypeDescription,
	type INodeTypes,
	type IRun,
	type IWorkflowBase,
	type IWorkflowExecuteAdditionalData,
} from 'n8n-workflow';

class MemoryCredentialsHelper extends ICredentialsHelper {
	constructor(private readonly data: Record<string, ICredentialDataDecryptedObject>) {
		super();
	}
	getParentTypes() {
		return [];
	}
	async authenticate(_c: ICredentialDataDecryptedObject, _t: string, options: unknown) {
		return options as IHttpRequestOptions;
	}
	async preAuthentication() {
		return undefined;
	}
	async runPreAuthentication() {
		return undefined;
	}
	async getCredentials(): Promise<never> {
		throw new Error('not supported in tests');
	}
	async getDecrypted(_a: unknown, _n: unknown, type: string) {
		if (!this.data[type]) throw new Error(`no test credentials for "${type}"`);
		return this.data[type];
	}
	async updateCredentials() {}
	async updateCredentialsOauthTokenData() {}
	getCredentialsProperties() {
		return [];
	}
}

/** Stands in for n8n-nodes-base.manualTrigger so UI-exported workflows run without n8n-nodes-base. */
class ManualTriggerStub implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Manual Trigger',
		name: 'manualTrigger',
		group: ['trigger'],
		version: 1,
		description: '',
		defaults: { name: 'Manual Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	};
	async execute(this: IExecuteFunctions) {
		return [this.getInputData()];
	}
}

export type WorkflowFixture = Pick<IWorkflowBase, 'nodes' | 'connections'> & Partial<IWorkflowBase>;

export interface RunResult {
	run: IRun;
	/** Items of a node's first output (first run), binary kept. */
	output(node: string, outputIndex?: number): INodeExecutionData[];
	/** The error that stopped the workflow, if any. */
	error: IRun['data']['resultData']['error'];
}

export interface RunOptions {
	workflow: WorkflowFixture;
	nodeTypes: Record<string, INodeType>; // key = the "type" string used in the workflow JSON
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	input?: INodeExecutionData[];
	startNode?: string;
}

/**
 * Starts a workflow and hands back, besides its result, `cancel()`: what n8n's Stop button does
 * (WorkflowExecute's cancelable run), so nodes can be tested against their execution cancel signal.
 */
export function startWorkflow(opts: RunOptions): { cancel(): void; result: Promise<RunResult> } {
	const registry: Record<string, INodeType> = {
		'n8n-nodes-base.manualTrigger': new ManualTriggerStub(),
		...opts.nodeTypes,
	};
	const nodeTypes: INodeTypes = {
		getByName: (type) => registry[type],
		getByNameAndVersion: (type, version) => NodeHelpers.getVersionedNodeType(registry[type], version),
		getKnownTypes: () => ({}),
	};
	const wf = structuredClone(opts.workflow);
	const workflow = new Workflow({
		id: 'test',
		nodes: wf.nodes,
		connections: wf.connections,
		nodeTypes,
		active: false,
		settings: wf.settings ?? {},
	});
	const start = opts.startNode ? workflow.getNode(opts.startNode) : workflow.getStartNode();
	if (!start) throw new Error('no start node');

	const hooks = new ExecutionLifecycleHooks('manual', 'test-exec', wf as IWorkflowBase);
	let finalRun: IRun | undefined;
	hooks.addHandler('workflowExecuteAfter', (r) => {
		finalRun = r;
	});
	const additionalData = {
		executionId: 'test-exec',
		webhookWaitingBaseUrl: 'http://localhost:5678/webhook-waiting',
		formWaitingBaseUrl: 'http://localhost:5678/form-waiting',
		hooks,
		credentialsHelper: new MemoryCredentialsHelper(opts.credentials ?? {}),
	} as unknown as IWorkflowExecuteAdditionalData;

	const runData = createRunExecutionData({
		executionData: {
			nodeExecutionStack: [{ node: start, data: { main: [opts.input ?? [{ json: {} }]] }, source: null }],
		},
	});
	const running = new WorkflowExecute(additionalData, 'manual', runData).processRunExecutionData(workflow);
	const result = (async (): Promise<RunResult> => {
		let returned: IRun | undefined;
		try {
			returned = await running;
		} catch (error) {
			if (!finalRun) throw error; // a cancelled run still reports through workflowExecuteAfter
		}
		const run = (finalRun ?? returned) as IRun;
		// n8n-core's SSH client manager (a DI singleton created by the execution contexts) keeps a
		// 60 s cleanup interval alive; in n8n the process lives on anyway, in a test it would keep
		// jest (and any script using this harness) from exiting.
		(Container.get(SSHClientsManager) as unknown as { cleanupTimer?: NodeJS.Timeout }).cleanupTimer?.unref();
		return {
			run,
			error: run.data.resultData.error,
			output: (node, outputIndex = 0) => run.data.resultData.runData[node]?.[0]?.data?.main[outputIndex] ?? [],
		};
	})();
	return { cancel: () => running.cancel(), result };
}

export async function runWorkflow(opts: RunOptions): Promise<RunResult> {
	return startWorkflow(opts).result;
}

/** Credential data for promptLabPostgres from a test database config. */
export function postgresCredential(config: {
	host: string;
	port: number;
	database: string;
	user: string;
	password: string;
	schema: string;
}): ICredentialDataDecryptedObject {
	return { ...config, ssl: 'disable', allowUnauthorizedCerts: false, maxPoolSize: 10 };
}

/** Manual Trigger → one node under test: the workflow most node tests need. */
export function singleNodeWorkflow(node: {
	name: string;
	type: string;
	parameters: Record<string, unknown>;
	credentials?: Record<string, { id: string; name: string }>;
	onError?: 'continueRegularOutput' | 'continueErrorOutput' | 'stopWorkflow';
}): WorkflowFixture {
	return {
		nodes: [
			{ id: 'trigger', name: 'Manual Trigger', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'under-test',
				name: node.name,
				type: node.type,
				typeVersion: 1,
				position: [200, 0],
				parameters: node.parameters as INodeParameters,
				credentials: node.credentials ?? { promptLabPostgres: { id: '1', name: 'PromptLab Postgres' } },
				...(node.onError ? { onError: node.onError } : {}),
			},
		],
		connections: { 'Manual Trigger': { main: [[{ node: node.name, type: NodeConnectionTypes.Main, index: 0 }]] } },
	};
}
