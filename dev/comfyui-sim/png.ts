/**
 * Real image bytes without an image library: PNG files with the requested IHDR size (solid colour,
 * so a 1024x1024 image deflates to a few kilobytes) and a tiny baseline JPEG for latent previews.
 */
import { deflateSync, crc32 as zlibCrc32 } from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		table[n] = c >>> 0;
	}
	return table;
})();

function crc32(data: Buffer): number {
	// zlib.crc32 exists from Node 20.15; keep a fallback for older runtimes.
	if (typeof zlibCrc32 === 'function') return zlibCrc32(data) >>> 0;
	let c = 0xffffffff;
	for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
	const head = Buffer.alloc(8);
	head.writeUInt32BE(data.length, 0);
	head.write(type, 4, 'latin1');
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
	return Buffer.concat([head, data, crc]);
}

export interface Rgb {
	r: number;
	g: number;
	b: number;
}

/**
 * An 8-bit RGB PNG of width x height in one colour, with tEXt chunks (SaveImage stores the
 * prompt and workflow JSON there). Rows are identical, which deflate turns into almost nothing;
 * the raw buffer is built one row at a time into a single deflate call to keep memory bounded by
 * width*height*3 only for the moment of compression.
 */
export function encodeSolidPng(width: number, height: number, colour: Rgb, text: Record<string, string> = {}): Buffer {
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(width, 0);
	ihdr.writeUInt32BE(height, 4);
	ihdr[8] = 8; // bit depth
	ihdr[9] = 2; // colour type RGB
	ihdr[10] = 0;
	ihdr[11] = 0;
	ihdr[12] = 0;
	const rowLength = 1 + width * 3;
	const row = Buffer.alloc(rowLength);
	row[0] = 0; // filter: none
	for (let x = 0; x < width; x++) {
		row[1 + x * 3] = colour.r;
		row[2 + x * 3] = colour.g;
		row[3 + x * 3] = colour.b;
	}
	const raw = Buffer.alloc(rowLength * height);
	for (let y = 0; y < height; y++) row.copy(raw, y * rowLength);
	const idat = deflateSync(raw, { level: 4 });
	const textChunks = Object.entries(text).map(([key, value]) =>
		chunk('tEXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0]), Buffer.from(value, 'latin1')])),
	);
	return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), ...textChunks, chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** Width and height from a PNG's IHDR, or null when the bytes are not a PNG. */
export function readPngSize(data: Buffer): { width: number; height: number } | null {
	if (data.length < 24 || !data.subarray(0, 8).equals(PNG_SIGNATURE)) return null;
	if (data.toString('latin1', 12, 16) !== 'IHDR') return null;
	return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

/** The tEXt chunks of a PNG (keyword → text). */
export function readPngText(data: Buffer): Record<string, string> {
	const out: Record<string, string> = {};
	let offset = 8;
	while (offset + 8 <= data.length) {
		const length = data.readUInt32BE(offset);
		const type = data.toString('latin1', offset + 4, offset + 8);
		if (type === 'tEXt') {
			const body = data.subarray(offset + 8, offset + 8 + length);
			const zero = body.indexOf(0);
			if (zero > 0) out[body.toString('latin1', 0, zero)] = body.toString('latin1', zero + 1);
		}
		if (type === 'IEND') break;
		offset += 12 + length;
	}
	return out;
}

/** A deterministic colour from a seed, so different seeds give visibly different images. */
export function colourFromSeed(seed: number): Rgb {
	let x = (Math.floor(Math.abs(seed)) % 0x7fffffff) ^ 0x5bd1e995;
	x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d);
	x = Math.imul(x ^ (x >>> 12), 0x297a2d39);
	x ^= x >>> 15;
	return { r: x & 0xff, g: (x >>> 8) & 0xff, b: (x >>> 16) & 0xff };
}

/**
 * A valid 8x8 grey baseline JPEG (~120 bytes): one DC-only block with single-code Huffman tables.
 * Real previews are JPEGs of at most --preview-size; clients only need to recognise the format.
 */
export const TINY_PREVIEW_JPEG: Buffer = (() => {
	const parts: number[] = [];
	const segment = (marker: number, body: number[]) => {
		const length = body.length + 2;
		parts.push(0xff, marker, length >> 8, length & 0xff, ...body);
	};
	parts.push(0xff, 0xd8); // SOI
	segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]); // JFIF
	segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]); // quantisation table 0, all ones
	segment(0xc0, [0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00]); // SOF0 8x8, one component
	// DC table 0 and AC table 0, each with one code of length 1 (symbol 0: "no difference" / EOB).
	segment(0xc4, [0x00, 0x01, ...new Array<number>(15).fill(0), 0x00]);
	segment(0xc4, [0x10, 0x01, ...new Array<number>(15).fill(0), 0x00]);
	segment(0xda, [0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]); // SOS
	parts.push(0x3f); // bits "0" (DC diff 0) "0" (EOB), padded with ones
	parts.push(0xff, 0xd9); // EOI
	return Buffer.from(parts);
})();
