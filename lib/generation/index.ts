/**
 * Generation use cases: plain TypeScript that nodes (and later triggers, reconcilers) call with
 * plain input. Each validates its input once through its schema (./input).
 */
export { generateInput, parallelItemsInput, renderInput, type GenerateInput, type RenderInput } from './input';
export { prepareJob, renderVersion, type PreparedJob, type RenderedVersion } from './prepare';
export { describeFile, describeFiles, selectOutputFiles, type RecordedFile } from './files';
export { ExecutionRecord } from './recording';
export {
	findExistingJob,
	generate,
	overridesOf,
	seedOf,
	throwIfStopped,
	type Deliver,
	type Delivery,
	type GenerationContext,
	type GenerationOutcome,
	type JobSummary,
} from './generate';
export {
	IN_FLIGHT_RETRY_AFTER_SECONDS,
	quotaOf,
	quotaRefusal,
	startWithinQuota,
	type UserLimits,
	type UserQuota,
} from './quota';
export { cancelJob, getJobResult, type CancelResult, type JobResult } from './jobs';
