/**
 * The prompts this process submitted, per server. Its own module so that the connection (which
 * owns a registry) and the completion waiter (which reads it) do not import each other.
 */
import { workflowClassTypes, type ClassTypeLookup, type ComfyNodeError } from './errors';
import type { ComfyEvent, EventStream, PromptSubscriber } from './events';
import type { ApiWorkflow } from './workflow';

/** Whoever waits for a tracked prompt (the CompletionWaiter): gets its events once attached. */
export interface PromptWaiter {
	onEvent(event: ComfyEvent): void;
	onReconnect(): void;
	onDisconnect(): void;
}

const TERMINAL_EVENTS = new Set(['execution_success', 'execution_error', 'execution_interrupted']);
const MAX_EARLY_EVENTS = 2_000;
/** A submitted prompt nobody waits for is forgotten after this long (its events are only kept for a waiter). */
const ORPHAN_TTL_MS = 10 * 60_000;

/**
 * A prompt this process submitted: subscribed to the event stream from before the POST, so no
 * event is missed, with the events kept until a waiter attaches.
 */
export class TrackedPrompt implements PromptSubscriber {
	readonly events: ComfyEvent[] = [];
	terminalSeen = false;
	waiter?: PromptWaiter;
	orphanSince?: number;
	warnings: ComfyNodeError[] = [];
	private unsubscribe?: () => void;

	constructor(
		readonly promptId: string,
		readonly submittedAt: number,
		readonly classTypeOf: ClassTypeLookup,
		readonly runFolder: string | undefined,
	) {}

	attach(events: EventStream): void {
		this.unsubscribe = events.subscribe(this.promptId, this);
	}

	/** Set by the registry: forget this prompt (it finished and nobody waits for it). */
	release?: () => void;

	onEvent(event: ComfyEvent): void {
		if (TERMINAL_EVENTS.has(event.type)) this.terminalSeen = true;
		if (this.waiter) {
			this.waiter.onEvent(event);
			return;
		}
		if (this.events.length < MAX_EARLY_EVENTS) this.events.push(event);
		// Submitted, finished, and nobody waiting: stop listening. A later wait finds it in history.
		if (this.orphanSince !== undefined && event.type === 'executing' && event.data.node === null) this.release?.();
	}

	onReconnect(): void {
		this.waiter?.onReconnect();
	}

	onDisconnect(): void {
		this.waiter?.onDisconnect();
	}

	detach(): void {
		this.unsubscribe?.();
		this.unsubscribe = undefined;
	}
}

/** The registry of TrackedPrompts lives on the ServerConnection (per server, per process), on its event stream. */
export class PromptRegistry {
	private readonly prompts = new Map<string, TrackedPrompt>();

	constructor(private readonly events: EventStream) {}

	track(promptId: string, workflow: ApiWorkflow | undefined, runFolder?: string): TrackedPrompt {
		this.sweepOrphans();
		this.prompts.get(promptId)?.detach();
		const tracked = new TrackedPrompt(promptId, Date.now(), workflowClassTypes(workflow), runFolder);
		tracked.release = () => this.untrack(promptId, tracked);
		tracked.attach(this.events);
		this.prompts.set(promptId, tracked);
		return tracked;
	}

	get(promptId: string): TrackedPrompt | undefined {
		return this.prompts.get(promptId);
	}

	untrack(promptId: string, tracked?: TrackedPrompt): void {
		const current = this.prompts.get(promptId);
		if (!current || (tracked && current !== tracked)) return;
		current.detach();
		this.prompts.delete(promptId);
	}

	get size(): number {
		return this.prompts.size;
	}

	private sweepOrphans(): void {
		const cutoff = Date.now() - ORPHAN_TTL_MS;
		for (const [id, tracked] of this.prompts) {
			if (!tracked.waiter && tracked.orphanSince !== undefined && tracked.orphanSince < cutoff) {
				tracked.detach();
				this.prompts.delete(id);
			}
		}
	}
}

