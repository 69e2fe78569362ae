/** Just enough multipart/form-data parsing for /upload/image (the body is already size-capped). */

export interface MultipartPart {
	name: string;
	filename?: string;
	contentType?: string;
	data: Buffer;
}

export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] | null {
	const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
	if (!/^multipart\/form-data/i.test(contentType) || !match) return null;
	const boundary = Buffer.from('--' + (match[1] ?? match[2]).trim());
	const parts: MultipartPart[] = [];
	let position = body.indexOf(boundary);
	if (position < 0) return null;
	for (;;) {
		position += boundary.length;
		if (body.subarray(position, position + 2).toString() === '--') break;
		if (body.subarray(position, position + 2).toString() === '\r\n') position += 2;
		const headerEnd = body.indexOf('\r\n\r\n', position);
		if (headerEnd < 0) return null;
		const headers = body.subarray(position, headerEnd).toString('utf8');
		const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), headerEnd + 4);
		if (next < 0) return null;
		const data = body.subarray(headerEnd + 4, next);
		const disposition = /content-disposition:([^\r\n]*)/i.exec(headers)?.[1] ?? '';
		const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
		const filenameStar = /\bfilename\*=(?:UTF-8'')?([^;\r\n]+)/i.exec(disposition)?.[1];
		const filename = filenameStar !== undefined ? decodeURIComponent(filenameStar.replace(/^"|"$/g, '')) : /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
		const partType = /content-type:\s*([^\r\n]*)/i.exec(headers)?.[1];
		if (name !== undefined) parts.push({ name, filename, contentType: partType, data });
		position = next + 2;
	}
	return parts;
}
