/** ComfyUI client library: plain TypeScript (undici + ws), no n8n imports. */
export {
	ComfyUiClient,
	prepareRun,
	type ConnectionTestResult,
	type DownloadableFile,
	type DownloadedFile,
	type DownloadOptions,
	type NodeInfo,
	type PromptLookup,
	type QueueItem,
	type QueueStatus,
	type RunOptions,
	type SubmitOptions,
	type SubmitResult,
	type SystemStats,
	type UploadedImage,
	type UploadImageOptions,
} from './client';
export { settleFromHistory, type CancelOutcome, type CompletionResult, type CompletionTimings, type WaitOptions } from './completion';
export {
	parseComfyServerConfig,
	toComfyServerConfig,
	type ComfyAuth,
	type ComfyServerConfig,
	type ComfyServerConfigInput,
} from './config';
export { closeAllComfyConnections } from './connection';
export {
	ComfyUiError,
	describeNodeError,
	isComfyUiError,
	type CancelAction,
	type ComfyNodeError,
	type ComfyUiErrorCode,
} from './errors';
export type { ComfyEvent } from './events';
export { extractOutputFiles, extractTextOutputs, mimeTypeFor, type HistoryEntry, type OutputFile } from './outputs';
export { ComfyServerPool, type ComfyServerPoolOptions, type ServerHealth } from './pool';
export { ensureApiWorkflow, withRunFilenamePrefix, UI_FORMAT_MESSAGE, type ApiNode, type ApiWorkflow } from './workflow';
