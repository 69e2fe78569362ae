/**
 * Domain errors raised by the repositories. `field` names the node parameter a user must change,
 * so the n8n adapter can say which field to fix.
 */
export class PromptLabError extends Error {
	constructor(
		message: string,
		readonly field?: string,
	) {
		super(message);
		this.name = new.target.name;
	}
}

/** The thing referred to does not exist (template, version, label, execution, campaign). */
export class NotFoundError extends PromptLabError {}

/** The request contradicts stored state or a rule (duplicate name, archived template, bad label). */
export class ConflictError extends PromptLabError {}
