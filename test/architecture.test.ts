/**
 * The layering rules of issue 8, checked over the import statements of every TypeScript file
 * (parsed with the TypeScript compiler's parser: no type check, so this runs in about a second):
 *
 * - product code (nodes/, credentials/, lib/, scripts/) never reaches test/ or e2e/, not even
 *   through another folder (scripts/ → dev/ → test/ counts);
 * - what n8n loads (nodes/, credentials/) and lib/ reach none of dev/, bench/, scripts/, test/, e2e/;
 * - lib/ does not reach nodes/ or credentials/ (use cases never depend on the n8n adapters);
 * - no node imports another node's folder (what nodes share lives in nodes/shared/);
 * - lib/ is plain TypeScript: no n8n packages (a file named lib/**\/n8n*.ts would be the exception);
 * - no import cycles among nodes/, credentials/ and lib/.
 *
 * Type-only imports count: they are erased at run time, but they still tie one module's design to
 * another's, which is what these rules are about.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

import * as ts from 'typescript';

const REPO_ROOT = resolve(__dirname, '..');
/** Folders holding the repository's own TypeScript. */
const SOURCE_FOLDERS = ['nodes', 'credentials', 'lib', 'scripts', 'dev', 'bench', 'test', 'e2e'];
const PRODUCT = ['nodes', 'credentials', 'lib', 'scripts'];
const LOADED_BY_N8N_OR_LIB = ['nodes', 'credentials', 'lib'];
const N8N_PACKAGE = /^(n8n-workflow|n8n-core|@n8n\/)/;

interface ImportRef {
	specifier: string;
	line: number;
	typeOnly: boolean;
}

interface Edge extends ImportRef {
	/** Repository-relative path, with forward slashes. */
	from: string;
	/** Repository-relative path of the imported file, or undefined for a package. */
	to?: string;
}

/** Every module specifier a file names: import/export … from, import x = require(), require(), import(), import('x').T. */
function importsOf(fileName: string, source: string): ImportRef[] {
	const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
	const found: ImportRef[] = [];
	const add = (node: ts.Node, literal: ts.Expression | undefined, typeOnly: boolean) => {
		if (!literal || !ts.isStringLiteralLike(literal)) return;
		found.push({ specifier: literal.text, line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1, typeOnly });
	};
	const visit = (node: ts.Node) => {
		if (ts.isImportDeclaration(node)) {
			const clause = node.importClause;
			const allSpecifiersTypeOnly =
				clause !== undefined &&
				clause.name === undefined &&
				clause.namedBindings !== undefined &&
				ts.isNamedImports(clause.namedBindings) &&
				clause.namedBindings.elements.length > 0 &&
				clause.namedBindings.elements.every((element) => element.isTypeOnly);
			add(node, node.moduleSpecifier, Boolean(clause?.isTypeOnly) || allSpecifiersTypeOnly);
		} else if (ts.isExportDeclaration(node)) {
			const allTypeOnly =
				node.exportClause !== undefined &&
				ts.isNamedExports(node.exportClause) &&
				node.exportClause.elements.length > 0 &&
				node.exportClause.elements.every((element) => element.isTypeOnly);
			add(node, node.moduleSpecifier, node.isTypeOnly || allTypeOnly);
		} else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
			add(node, node.moduleReference.expression, node.isTypeOnly);
		} else if (ts.isCallExpression(node)) {
			const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
			const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
			if ((isRequire || isDynamicImport) && node.arguments.length === 1) add(node, node.arguments[0], false);
		} else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
			add(node, node.argument.literal, true);
		}
		ts.forEachChild(node, visit);
	};
	visit(file);
	return found;
}

function listTypeScript(dir: string, into: string[] = []): string[] {
	if (!existsSync(dir)) return into;
	for (const entry of readdirSync(dir)) {
		if (entry === 'node_modules' || entry.startsWith('.')) continue;
		const path = join(dir, entry);
		if (statSync(path).isDirectory()) listTypeScript(path, into);
		else if (/\.ts$/.test(entry) && !entry.endsWith('.d.ts')) into.push(path);
	}
	return into;
}

const toRepoPath = (absolute: string) => relative(REPO_ROOT, absolute).split(sep).join('/');

/** A relative specifier → the repository file it loads (as Node's CommonJS resolution plus ts-node would). */
function resolveRelative(fromFile: string, specifier: string): string | undefined {
	const base = resolve(dirname(fromFile), specifier);
	const candidates = [base, `${base}.ts`, `${base.replace(/\.js$/, '')}.ts`, join(base, 'index.ts'), `${base}.js`, `${base}.json`];
	const hit = candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
	return hit === undefined ? undefined : toRepoPath(hit);
}

function readGraph(): { files: string[]; edges: Edge[]; unresolved: Edge[] } {
	const files = SOURCE_FOLDERS.flatMap((folder) => listTypeScript(join(REPO_ROOT, folder)));
	const edges: Edge[] = [];
	const unresolved: Edge[] = [];
	for (const absolute of files) {
		const from = toRepoPath(absolute);
		for (const ref of importsOf(absolute, readFileSync(absolute, 'utf8'))) {
			if (!ref.specifier.startsWith('.')) {
				edges.push({ ...ref, from });
				continue;
			}
			const to = resolveRelative(absolute, ref.specifier);
			(to === undefined ? unresolved : edges).push({ ...ref, from, to });
		}
	}
	return { files: files.map(toRepoPath), edges, unresolved };
}

const topFolder = (path: string) => path.split('/')[0];
/** nodes/AbCampaign/actions/x.ts → AbCampaign; nodes/shared/… → shared. */
const nodeFolder = (path: string) => (path.startsWith('nodes/') ? path.split('/')[1] : undefined);
const describeEdge = (edge: Edge) => `${edge.from}:${edge.line} imports '${edge.specifier}'${edge.typeOnly ? ' (type only)' : ''}`;

const graph = readGraph();
const internal = graph.edges.filter((edge): edge is Edge & { to: string } => edge.to !== undefined);
const importsFrom = new Map<string, Array<Edge & { to: string }>>();
for (const edge of internal) {
	const list = importsFrom.get(edge.from) ?? [];
	list.push(edge);
	importsFrom.set(edge.from, list);
}

/**
 * Files of `roots` that reach a file of `forbidden` through imports, each with the shortest chain
 * (breadth-first), one line per offending start file.
 */
function forbiddenReach(roots: string[], forbidden: string[]): string[] {
	const problems: string[] = [];
	for (const start of graph.files.filter((file) => roots.includes(topFolder(file)))) {
		const cameFrom = new Map<string, Edge & { to: string }>();
		const queue = [start];
		const seen = new Set(queue);
		let target: string | undefined;
		while (queue.length > 0 && target === undefined) {
			const current = queue.shift() as string;
			for (const edge of importsFrom.get(current) ?? []) {
				if (seen.has(edge.to)) continue;
				seen.add(edge.to);
				cameFrom.set(edge.to, edge);
				if (forbidden.includes(topFolder(edge.to))) {
					target = edge.to;
					break;
				}
				queue.push(edge.to);
			}
		}
		if (target === undefined) continue;
		const chain: string[] = [];
		for (let at: string | undefined = target; at !== undefined && at !== start; at = cameFrom.get(at)?.from) {
			chain.unshift(describeEdge(cameFrom.get(at) as Edge));
		}
		problems.push(chain.join(' → '));
	}
	return problems;
}

/** Strongly connected components (Tarjan) of the graph restricted to `folders`, each as one printed cycle. */
function cycles(folders: string[]): string[] {
	const inScope = (file: string) => folders.includes(topFolder(file));
	const next = (file: string) => (importsFrom.get(file) ?? []).filter((edge) => inScope(edge.to));
	let counter = 0;
	const index = new Map<string, number>();
	const low = new Map<string, number>();
	const stack: string[] = [];
	const onStack = new Set<string>();
	const components: string[][] = [];
	const strongConnect = (file: string) => {
		index.set(file, counter);
		low.set(file, counter);
		counter++;
		stack.push(file);
		onStack.add(file);
		for (const { to } of next(file)) {
			if (!index.has(to)) {
				strongConnect(to);
				low.set(file, Math.min(low.get(file) as number, low.get(to) as number));
			} else if (onStack.has(to)) {
				low.set(file, Math.min(low.get(file) as number, index.get(to) as number));
			}
		}
		if (low.get(file) === index.get(file)) {
			const component: string[] = [];
			let member: string;
			do {
				member = stack.pop() as string;
				onStack.delete(member);
				component.push(member);
			} while (member !== file);
			const selfImport = next(file).some((edge) => edge.to === file);
			if (component.length > 1 || selfImport) components.push(component);
		}
	};
	for (const file of graph.files.filter(inScope).sort()) if (!index.has(file)) strongConnect(file);

	// One concrete cycle per component: the shortest way from its first file back to itself.
	return components.map((component) => {
		const members = new Set(component);
		const start = [...component].sort()[0];
		const cameFrom = new Map<string, Edge & { to: string }>();
		const queue = [start];
		let closing: (Edge & { to: string }) | undefined;
		while (queue.length > 0 && closing === undefined) {
			const current = queue.shift() as string;
			for (const edge of next(current)) {
				if (!members.has(edge.to)) continue;
				if (edge.to === start) {
					closing = edge;
					break;
				}
				if (cameFrom.has(edge.to)) continue;
				cameFrom.set(edge.to, edge);
				queue.push(edge.to);
			}
		}
		const steps: Edge[] = [];
		for (let edge = closing; edge !== undefined; edge = edge.from === start ? undefined : cameFrom.get(edge.from)) steps.unshift(edge);
		const size = component.length > 1 ? ` (${component.length} files in this knot)` : '';
		return `${steps.map(describeEdge).join(' → ')}${size}`;
	});
}

describe('import parser (so the rules below cannot pass by reading nothing)', () => {
	it('finds every form of import, and which ones are type-only', () => {
		const source = [
			"import { a } from './a';",
			"import type { B } from './b';",
			"import { type C, type D } from './c';",
			"import {\n\ttype E,\n\tf,\n} from './e';",
			"export { g } from './g';",
			"export type { H } from './h';",
			"export * from './star';",
			"import i = require('./i');",
			"const j = require('./j');",
			"const k = () => import('./k');",
			"let l: import('./l').L;",
			"// import { m } from './commented-out';",
			"const text = \"import { n } from './in-a-string'\";",
		].join('\n');
		expect(importsOf('sample.ts', source).map(({ specifier, typeOnly }) => `${specifier}${typeOnly ? ' (type)' : ''}`)).toEqual([
			'./a',
			'./b (type)',
			'./c (type)',
			'./e',
			'./g',
			'./h (type)',
			'./star',
			'./i',
			'./j',
			'./k',
			'./l (type)',
		]);
	});

	it('reads the repository: every folder has files, and every relative import resolves to a file', () => {
		for (const folder of PRODUCT) expect(graph.files.some((file) => topFolder(file) === folder)).toBe(true);
		expect(internal.length).toBeGreaterThan(200);
		expect(graph.unresolved.map(describeEdge)).toEqual([]);
	});
});

describe('architecture (issue 8)', () => {
	it('product code (nodes, credentials, lib, scripts) never reaches test/ or e2e/', () => {
		expect(forbiddenReach(PRODUCT, ['test', 'e2e'])).toEqual([]);
	});

	it('nodes, credentials and lib reach none of dev/, bench/, scripts/, test/, e2e/', () => {
		expect(forbiddenReach(LOADED_BY_N8N_OR_LIB, ['dev', 'bench', 'scripts', 'test', 'e2e'])).toEqual([]);
	});

	it('lib/ reaches neither nodes/ nor credentials/', () => {
		expect(forbiddenReach(['lib'], ['nodes', 'credentials'])).toEqual([]);
	});

	it("no node imports another node's folder (shared code lives in nodes/shared)", () => {
		const crossNode = internal.filter((edge) => {
			const from = nodeFolder(edge.from);
			const to = nodeFolder(edge.to);
			return from !== undefined && to !== undefined && to !== 'shared' && to !== from;
		});
		expect(crossNode.map(describeEdge)).toEqual([]);
	});

	it('lib/ does not import n8n packages (plain TypeScript; only a lib/**/n8n*.ts file may)', () => {
		const n8nInLib = graph.edges.filter(
			(edge) => edge.to === undefined && topFolder(edge.from) === 'lib' && N8N_PACKAGE.test(edge.specifier) && !basename(edge.from).startsWith('n8n'),
		);
		expect(n8nInLib.map(describeEdge)).toEqual([]);
	});

	it('no import cycles among nodes/, credentials/ and lib/', () => {
		expect(cycles(LOADED_BY_N8N_OR_LIB)).toEqual([]);
	});
});
