/** Short, bounded description of a value for error messages (values can be 1 MB strings). */
export function describeValue(value: unknown): string {
	if (value === null) return 'null';
	if (value === undefined) return 'nothing';
	if (Array.isArray(value)) return `an array (${value.length} items)`;
	if (typeof value === 'string') {
		const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
		return `the string ${JSON.stringify(shown)}`;
	}
	if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
	if (typeof value === 'object') return 'an object';
	return `a ${typeof value}`;
}
