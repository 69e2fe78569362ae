import type { OutputFile } from '../comfyui';
import type { AssetInput } from '../db/executions';

export type OutputSelection = 'saved' | 'all';

/** One output file of a job as it is recorded: what ComfyUI reported, plus size and hash once downloaded. */
export interface RecordedFile extends OutputFile {
	/** Known once downloaded. */
	bytes?: number;
	sha256?: string;
}

/**
 * Which history outputs become files: 'saved' = files ComfyUI wrote to its output folder (Save
 * Image, Save Video...), falling back to the temp previews when the workflow saved nothing
 * (a workflow ending in Preview Image); 'all' = every file, previews and inputs included.
 */
export function selectOutputFiles(outputs: OutputFile[], selection: OutputSelection): OutputFile[] {
	if (selection === 'all') return outputs;
	const saved = outputs.filter((f) => f.type === 'output');
	return saved.length > 0 ? saved : outputs;
}

/** A file as known without downloading it. */
export function describeFile(file: OutputFile): RecordedFile {
	return {
		nodeId: file.nodeId,
		kind: file.kind,
		filename: file.filename,
		subfolder: file.subfolder,
		type: file.type,
		mimeType: file.mimeType,
		cached: file.cached,
		animated: file.animated,
		index: file.index,
	};
}

export function describeFiles(files: OutputFile[]): RecordedFile[] {
	return files.map(describeFile);
}

/** Recorded assets of a succeeded execution back as output files (when the server forgot the job). */
export function filesFromAssets(
	assets: Array<{ nodeId: string; filename: string; subfolder: string; type: string; mimeType: string | null; metadata: Record<string, unknown> }>,
): OutputFile[] {
	return assets.map((a, index) => ({
		nodeId: a.nodeId,
		kind: String(a.metadata.kind ?? 'images'),
		filename: a.filename,
		subfolder: a.subfolder,
		type: a.type,
		mimeType: a.mimeType ?? 'application/octet-stream',
		animated: a.metadata.animated === true,
		cached: a.metadata.cached === true,
		index,
	}));
}

export function assetInputs(files: RecordedFile[], galleryId: string | undefined): AssetInput[] {
	return files.map((file) => ({
		nodeId: file.nodeId,
		filename: file.filename,
		subfolder: file.subfolder,
		type: file.type,
		mimeType: file.mimeType,
		bytes: file.bytes ?? null,
		sha256: file.sha256 ?? null,
		galleryId: galleryId ?? null,
		metadata: { kind: file.kind, index: file.index, cached: file.cached, ...(file.animated ? { animated: true } : {}) },
	}));
}
