/**
 * JSON the way ComfyUI's aiohttp server writes it (Python's json.dumps defaults): ", " and ": "
 * separators, non-ASCII escaped, floats that are whole numbers written as "12.0", and integers
 * beyond 2^53 (KSampler's seed max) written exactly. Clients parse it like any JSON; the markers
 * only matter for byte-level fidelity and for the `number` echo of POST /prompt.
 */

/** A value that was float() in Python: serialized as "12.0" when whole. */
export class PyFloat {
	constructor(readonly value: number) {}
	valueOf(): number {
		return this.value;
	}
	toString(): string {
		return pyFloatRepr(this.value);
	}
}

/** Pre-serialized JSON text inserted verbatim (e.g. 18446744073709551615). */
export class RawJson {
	constructor(readonly text: string) {}
}

export function pyFloatRepr(value: number): string {
	if (Number.isNaN(value)) return 'NaN';
	if (value === Infinity) return 'Infinity';
	if (value === -Infinity) return '-Infinity';
	if (Number.isInteger(value) && Math.abs(value) < 1e16) return value.toFixed(1);
	return String(value);
}

function escapeString(text: string): string {
	let out = '"';
	for (const ch of text) {
		const code = ch.codePointAt(0) ?? 0;
		if (ch === '"') out += '\\"';
		else if (ch === '\\') out += '\\\\';
		else if (ch === '\n') out += '\\n';
		else if (ch === '\r') out += '\\r';
		else if (ch === '\t') out += '\\t';
		else if (ch === '\b') out += '\\b';
		else if (ch === '\f') out += '\\f';
		else if (code < 0x20 || code > 0x7e) {
			// Python's ensure_ascii writes astral characters as surrogate pairs.
			for (let i = 0; i < ch.length; i++) out += '\\u' + ch.charCodeAt(i).toString(16).padStart(4, '0');
		} else out += ch;
	}
	return out + '"';
}

export function pyJsonDumps(value: unknown): string {
	if (value === null || value === undefined) return 'null';
	if (value instanceof RawJson) return value.text;
	if (value instanceof PyFloat) return pyFloatRepr(value.value);
	switch (typeof value) {
		case 'string':
			return escapeString(value);
		case 'number':
			if (Number.isNaN(value)) return 'NaN';
			if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
			return String(value);
		case 'boolean':
			return value ? 'true' : 'false';
		case 'bigint':
			return value.toString();
		case 'object': {
			if (Array.isArray(value)) return '[' + value.map((v) => pyJsonDumps(v)).join(', ') + ']';
			const parts: string[] = [];
			for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
				if (v === undefined) continue;
				parts.push(escapeString(key) + ': ' + pyJsonDumps(v));
			}
			return '{' + parts.join(', ') + '}';
		}
		default:
			return 'null';
	}
}

/** Deep copy that keeps PyFloat / RawJson markers (structuredClone would drop the class). */
export function deepCopy<T>(value: T): T {
	if (value === null || typeof value !== 'object') return value;
	if (value instanceof PyFloat || value instanceof RawJson) return value;
	if (Array.isArray(value)) return value.map((v) => deepCopy(v)) as unknown as T;
	const out: Record<string, unknown> = {};
	for (const [key, v] of Object.entries(value as Record<string, unknown>)) out[key] = deepCopy(v);
	return out as T;
}

/** Python's repr() for the values that appear in validation messages. */
export function pyRepr(value: unknown): string {
	if (value === null || value === undefined) return 'None';
	if (value instanceof PyFloat) return pyFloatRepr(value.value);
	if (typeof value === 'boolean') return value ? 'True' : 'False';
	if (typeof value === 'number') return String(value);
	if (typeof value === 'string') {
		const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
		const body = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
		return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
	}
	if (Array.isArray(value)) return '[' + value.map((v) => pyRepr(v)).join(', ') + ']';
	if (typeof value === 'object') {
		return '{' + Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ') + '}';
	}
	return String(value);
}

/** Python's str(): like repr() except that a bare string is not quoted. */
export function pyStr(value: unknown): string {
	return typeof value === 'string' ? value : pyRepr(value);
}

/** The plain number behind a value that validation may have turned into a PyFloat. */
export function toNumber(value: unknown): number {
	if (value instanceof PyFloat) return value.value;
	if (typeof value === 'number') return value;
	if (typeof value === 'boolean') return value ? 1 : 0;
	return Number(value);
}
