import { createHash } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';

import type { IBinaryData, IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { ComfyUiError, type ComfyUiClient, type OutputFile } from '../../../lib/comfyui';
import { describeFile, describeFiles, type Deliver, type RecordedFile } from '../../../lib/generation';

export type OutputMode = 'perFile' | 'allInOne';

/** One output file of a job, after (optional) delivery into n8n binary data. */
export interface DeliveredFile extends RecordedFile {
	binary?: IBinaryData;
}

/**
 * Streams one output file from ComfyUI into n8n binary data. The bytes pass through a hashing
 * transform on their way, so sha256 and size are known when n8n has stored the file, and nothing
 * here ever holds the whole file (n8n's binary data mode decides where it goes).
 */
async function deliver(ctx: IExecuteFunctions, client: ComfyUiClient, file: OutputFile, signal: AbortSignal): Promise<DeliveredFile> {
	const download = await client.download(file, { signal });
	const hash = createHash('sha256');
	let bytes = 0;
	const hashing = new Transform({
		transform(chunk: Buffer, _encoding, callback) {
			hash.update(chunk);
			bytes += chunk.length;
			callback(null, chunk);
		},
	});
	// pipeline destroys the source when the consumer gives up, which frees the HTTP connection.
	pipeline(download.stream, hashing, () => undefined);
	let binary: IBinaryData;
	try {
		binary = await ctx.helpers.prepareBinaryData(hashing, file.filename, download.mimeType || file.mimeType);
	} catch (error) {
		hashing.destroy();
		throw error;
	}
	if (download.bytes !== undefined && download.bytes !== bytes) {
		throw new ComfyUiError('comfyui_bad_response', `Download of ${file.filename} from ${client.server} ended after ${bytes} of ${download.bytes} bytes`, {
			server: client.server,
		});
	}
	return { ...describeFile(file), mimeType: binary.mimeType || download.mimeType, bytes, sha256: hash.digest('hex'), binary };
}

/**
 * Downloads the files one after the other (a job's files come from one server; sequential keeps
 * one connection and bounded memory per item). On failure, `error` is set and `files` holds what
 * was delivered so far followed by the rest undelivered, so the caller can still record them.
 */
async function deliverFiles(
	ctx: IExecuteFunctions,
	client: ComfyUiClient,
	files: OutputFile[],
	signal: AbortSignal,
): Promise<{ files: DeliveredFile[]; error?: unknown }> {
	const delivered: DeliveredFile[] = [];
	for (let n = 0; n < files.length; n++) {
		try {
			delivered.push(await deliver(ctx, client, files[n], signal));
		} catch (error) {
			return { files: [...delivered, ...files.slice(n).map(describeFile)], error };
		}
	}
	return { files: delivered };
}

/** The use cases' `deliver`: download into n8n binary data, or (Download Files off) only describe the files. */
export function deliverer(ctx: IExecuteFunctions, download: boolean, signal: AbortSignal): Deliver<DeliveredFile> {
	return async (client, files) => (download ? deliverFiles(ctx, client, files, signal) : { files: describeFiles(files) });
}

function fileJson(file: DeliveredFile): IDataObject {
	const json: IDataObject = {
		nodeId: file.nodeId,
		filename: file.filename,
		subfolder: file.subfolder,
		type: file.type,
		mimeType: file.mimeType,
		kind: file.kind,
		cached: file.cached,
	};
	if (file.animated) json.animated = true;
	if (file.bytes !== undefined) json.bytes = file.bytes;
	if (file.sha256 !== undefined) json.sha256 = file.sha256;
	return json;
}

/**
 * The items of one job. 'perFile': one item per file, the file in `binaryProperty`; 'allInOne':
 * one item with `files` and the binaries in `<binaryProperty>_0`, `_1`, ... A job without files
 * still gives one item (its metadata, `files: []`), so the input item is never silently dropped.
 */
export function buildOutputItems(
	base: IDataObject,
	files: DeliveredFile[],
	mode: OutputMode,
	binaryProperty: string,
): INodeExecutionData[] {
	if (files.length === 0) return [{ json: { ...base, fileCount: 0, files: [] } }];
	if (mode === 'allInOne') {
		const binary: Record<string, IBinaryData> = {};
		const list = files.map((file, n) => {
			const json = fileJson(file);
			if (file.binary) {
				const property = `${binaryProperty}_${n}`;
				binary[property] = file.binary;
				json.binaryProperty = property;
			}
			return json;
		});
		const item: INodeExecutionData = { json: { ...base, fileCount: files.length, files: list } };
		if (Object.keys(binary).length > 0) item.binary = binary;
		return [item];
	}
	return files.map((file, n) => {
		const item: INodeExecutionData = { json: { ...base, ...fileJson(file), fileIndex: n, fileCount: files.length } };
		if (file.binary) item.binary = { [binaryProperty]: file.binary };
		return item;
	});
}
