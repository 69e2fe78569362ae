/** One file referenced by a history entry's outputs (`{filename, subfolder, type}`). */
export interface OutputFile {
	nodeId: string;
	/** The output key it was listed under: images, gifs, video, audio, or a custom node's key. */
	kind: string;
	filename: string;
	subfolder: string;
	/** ComfyUI folder: output | temp | input */
	type: string;
	mimeType: string;
	/** Listed under `images` with `animated: [true]` (SaveWEBM/SaveVideo/SaveAnimatedWEBP). */
	animated: boolean;
	/** The node did not run in this prompt; ComfyUI reported its cached output (a file of an earlier run). */
	cached: boolean;
	/** Position inside that node's list, to keep batch order. */
	index: number;
}

export interface HistoryStatus {
	status_str?: string;
	completed?: boolean;
	messages?: Array<[string, Record<string, unknown>]>;
}

/** One `/history/{id}` entry. */
export interface HistoryEntry {
	prompt?: unknown[];
	outputs?: Record<string, Record<string, unknown> | null>;
	status?: HistoryStatus;
	meta?: Record<string, unknown>;
}

const MIME_BY_EXTENSION: Record<string, string> = {
	png: 'image/png',
	jpg: 'image/jpeg',
	jpeg: 'image/jpeg',
	webp: 'image/webp',
	gif: 'image/gif',
	bmp: 'image/bmp',
	tif: 'image/tiff',
	tiff: 'image/tiff',
	avif: 'image/avif',
	svg: 'image/svg+xml',
	exr: 'image/x-exr',
	mp4: 'video/mp4',
	m4v: 'video/mp4',
	webm: 'video/webm',
	mov: 'video/quicktime',
	mkv: 'video/x-matroska',
	avi: 'video/x-msvideo',
	mp3: 'audio/mpeg',
	wav: 'audio/wav',
	flac: 'audio/flac',
	ogg: 'audio/ogg',
	opus: 'audio/opus',
	m4a: 'audio/mp4',
	aac: 'audio/aac',
	glb: 'model/gltf-binary',
	gltf: 'model/gltf+json',
	obj: 'model/obj',
	txt: 'text/plain',
	json: 'application/json',
};

export function mimeTypeFor(filename: string): string {
	const dot = filename.lastIndexOf('.');
	if (dot < 0) return 'application/octet-stream';
	return MIME_BY_EXTENSION[filename.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}

/** A ComfyUI video ref may carry its MIME in `format` (e.g. "video/h264-mp4" from VHS is not one). */
function formatMime(format: unknown): string | undefined {
	return typeof format === 'string' && /^[a-z]+\/[a-z0-9.+-]+$/i.test(format) && !format.includes('h264')
		? format
		: undefined;
}

export interface ExtractOptions {
	/** Keep only these ComfyUI folders (default: all). */
	types?: string[];
	/** Node ids ComfyUI reported as cached for this prompt (execution_cached). */
	cachedNodes?: Iterable<string>;
}

/**
 * Every file in a history entry's outputs, whatever the key: images, gifs (VideoHelperSuite),
 * video, audio, 3D results, custom nodes' keys. Anything shaped `{filename, subfolder?, type?}`
 * counts; text and flags do not.
 */
export function extractOutputFiles(entry: HistoryEntry, options: ExtractOptions = {}): OutputFile[] {
	const cached = new Set(options.cachedNodes ?? []);
	const types = options.types ? new Set(options.types) : undefined;
	const files: OutputFile[] = [];
	for (const [nodeId, output] of Object.entries(entry.outputs ?? {})) {
		if (!output || typeof output !== 'object') continue;
		const animated = Array.isArray(output.animated) && output.animated.some((a) => a === true);
		for (const [kind, list] of Object.entries(output)) {
			if (!Array.isArray(list)) continue;
			list.forEach((item: unknown, index) => {
				if (!item || typeof item !== 'object') return;
				const ref = item as Record<string, unknown>;
				if (typeof ref.filename !== 'string' || ref.filename === '') return;
				const type = typeof ref.type === 'string' && ref.type ? ref.type : 'output';
				if (types && !types.has(type)) return;
				files.push({
					nodeId,
					kind,
					filename: ref.filename,
					subfolder: typeof ref.subfolder === 'string' ? ref.subfolder : '',
					type,
					mimeType: formatMime(ref.format) ?? mimeTypeFor(ref.filename),
					animated: kind === 'images' && animated,
					cached: cached.has(nodeId),
					index,
				});
			});
		}
	}
	return files;
}

/** `text` outputs per node (ShowText-style nodes, SaveText), kept as JSON next to the files. */
export function extractTextOutputs(entry: HistoryEntry): Record<string, string[]> {
	const texts: Record<string, string[]> = {};
	for (const [nodeId, output] of Object.entries(entry.outputs ?? {})) {
		const list = output?.text;
		if (!Array.isArray(list)) continue;
		const strings = list.filter((t): t is string => typeof t === 'string');
		if (strings.length > 0) texts[nodeId] = strings;
	}
	return texts;
}
