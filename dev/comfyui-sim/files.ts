/**
 * The simulator's input/output/temp directories, held in memory. Big outputs are "generated"
 * files: only their size and a seed are stored and the bytes are produced while streaming, so a
 * 200 MB download costs no memory.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

export type FolderType = 'input' | 'output' | 'temp';

/** Where the real server's directories would be; used for the path-traversal checks. */
export const BASE_DIRS: Record<FolderType, string> = {
	output: '/ComfyUI/output',
	input: '/ComfyUI/input',
	temp: '/ComfyUI/temp',
};

interface StoredFile {
	size: number;
	mtimeMs: number;
	data?: Buffer;
	generated?: { header: Buffer; seed: string };
}

const BLOCK = 65536;

/**
 * Recycles the 64 KiB blocks of generated files once the socket has taken them, so streaming a
 * 200 MB output leaves no 200 MB of garbage behind (a client test may watch its own memory).
 */
export class BlockPool {
	private readonly free: ArrayBuffer[] = [];
	private readonly owned = new WeakSet<ArrayBufferLike>();

	acquire(): Buffer {
		const reused = this.free.pop();
		if (reused) return Buffer.from(reused);
		const block = Buffer.alloc(BLOCK);
		this.owned.add(block.buffer);
		return block;
	}

	release(chunk: Buffer): void {
		if (this.owned.has(chunk.buffer) && this.free.length < 32) this.free.push(chunk.buffer as ArrayBuffer);
	}
}

export class VirtualFiles {
	private readonly dirs: Record<FolderType, Map<string, StoredFile>> = { input: new Map(), output: new Map(), temp: new Map() };
	private readonly blockCache = new Map<string, Buffer>();

	/** Path of a file relative to its base directory, from an absolute virtual path. */
	static relative(type: FolderType, absolutePath: string): string | null {
		const base = BASE_DIRS[type];
		if (absolutePath === base) return '';
		if (!absolutePath.startsWith(base + '/')) return null;
		return absolutePath.slice(base.length + 1);
	}

	put(type: FolderType, relativePath: string, data: Buffer): void {
		this.dirs[type].set(posix.normalize(relativePath), { size: data.length, mtimeMs: Date.now(), data });
	}

	putGenerated(type: FolderType, relativePath: string, size: number, header: Buffer): void {
		const seed = `${type}/${relativePath}/${Date.now()}/${Math.random()}`;
		this.dirs[type].set(posix.normalize(relativePath), { size, mtimeMs: Date.now(), generated: { header, seed } });
	}

	get(type: FolderType, relativePath: string): StoredFile | undefined {
		return this.dirs[type].get(posix.normalize(relativePath));
	}

	exists(type: FolderType, relativePath: string): boolean {
		return this.dirs[type].has(posix.normalize(relativePath));
	}

	/** Names of the files directly inside a folder ('' = the base directory). */
	list(type: FolderType, folder: string): string[] {
		const prefix = folder === '' || folder === '.' ? '' : posix.normalize(folder).replace(/\/$/, '') + '/';
		const names: string[] = [];
		for (const key of this.dirs[type].keys()) {
			if (!key.startsWith(prefix)) continue;
			const rest = key.slice(prefix.length);
			if (rest.length > 0 && !rest.includes('/')) names.push(rest);
		}
		return names;
	}

	clear(type: FolderType): void {
		this.dirs[type].clear();
	}

	/** Small files only: the whole content, or null if missing. Generated files are materialised. */
	async read(type: FolderType, relativePath: string): Promise<Buffer | null> {
		const file = this.get(type, relativePath);
		if (!file) return null;
		if (file.data) return file.data;
		const chunks: Buffer[] = [];
		for await (const chunk of this.stream(file, 0, file.size)) chunks.push(chunk);
		return Buffer.concat(chunks);
	}

	async sha256(type: FolderType, relativePath: string): Promise<string | null> {
		const file = this.get(type, relativePath);
		if (!file) return null;
		const hash = createHash('sha256');
		for await (const chunk of this.stream(file, 0, file.size)) hash.update(chunk);
		return hash.digest('hex');
	}

	/** The bytes [start, end) of a file, in chunks of at most 64 KiB. */
	async *stream(file: StoredFile, start: number, end: number, pool?: BlockPool): AsyncGenerator<Buffer> {
		if (file.data) {
			for (let offset = start; offset < end; offset += BLOCK) yield file.data.subarray(offset, Math.min(end, offset + BLOCK));
			return;
		}
		const generated = file.generated as { header: Buffer; seed: string };
		const base = this.baseBlock(generated.seed);
		for (let blockStart = Math.floor(start / BLOCK) * BLOCK; blockStart < end; blockStart += BLOCK) {
			const block = pool ? pool.acquire() : Buffer.alloc(BLOCK);
			base.copy(block);
			// Every block differs (its index is written into it), so reordered chunks change the hash.
			block.writeBigUInt64BE(BigInt(blockStart / BLOCK), 0);
			if (blockStart === 0) generated.header.copy(block, 0, 0, Math.min(generated.header.length, BLOCK));
			const from = Math.max(start, blockStart) - blockStart;
			const to = Math.min(end, blockStart + BLOCK) - blockStart;
			yield block.subarray(from, to);
		}
	}

	private baseBlock(seed: string): Buffer {
		let block = this.blockCache.get(seed);
		if (!block) {
			block = Buffer.alloc(BLOCK);
			for (let i = 0; i < BLOCK / 32; i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(block, i * 32);
			this.blockCache.set(seed, block);
		}
		return block;
	}
}
