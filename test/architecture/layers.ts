/**
 * The layer rule of docs/architecture.md, read from the code with TypeScript's own parser
 * (`ts.preProcessFile`: every `import`, `export … from`, `import type` and `import()`), so no convention can
 * drift from what the files really import. A layer imports only from layers below it; `src/client/` imports
 * only what a browser bundle may (protocol, wire, transport, errors, util); no files import each other in a
 * loop, type-only imports included.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Bottom first. Layers on one line are peers: neither may import the other. */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'util'],
  ['protocol'],
  ['wire'],
  ['transport'],
  ['options', 'security'],
  ['storage'],
  ['bus', 'cluster'],
  ['contract'],
  ['services'],
  ['server', 'observability'],
  ['http'],
  ['node'],
  ['client'],
  ['cli'],
  ['index'],
];

/** `src/client/` runs in browsers too: it may import these and nothing else of the node. */
export const CLIENT_MAY_IMPORT: ReadonlySet<string> = new Set([
  'protocol',
  'wire',
  'transport',
  'errors',
  'util',
]);

const RANK = new Map<string, number>(
  LAYERS.flatMap((peers, rank) => peers.map((name) => [name, rank] as const)),
);

/** The layer of a file given relative to `src/`: its first folder, or the file's name for `errors.ts` and the like. */
export function layerOf(file: string): string {
  const [first, ...rest] = file.split('/');
  return rest.length === 0 ? first!.replace(/\.(d\.)?ts$/, '') : first!;
}

/** Relative imports of each file, resolved to other files of the same map (paths relative to `src/`). */
export function importGraph(sources: ReadonlyMap<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of sources) {
    const targets: string[] = [];
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const joined = path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName));
      const candidates = [joined.replace(/\.js$/, '.ts'), joined, `${joined}.ts`, `${joined}/index.ts`];
      const hit = candidates.find((c) => sources.has(c));
      if (hit === undefined) throw new Error(`${file}: import '${fileName}' names no file under src/`);
      targets.push(hit);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Every import that breaks the layer order, as `from -> to (why)`. */
export function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const bad: string[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    const rankA = RANK.get(a);
    if (rankA === undefined) {
      bad.push(`${from}: folder '${a}' has no place in LAYERS (test/architecture/layers.ts)`);
      continue;
    }
    for (const to of targets) {
      const b = layerOf(to);
      if (a === b) continue;
      const rankB = RANK.get(b);
      if (rankB === undefined) bad.push(`${from} -> ${to} (folder '${b}' has no place in LAYERS)`);
      else if (a === 'client' && !CLIENT_MAY_IMPORT.has(b))
        bad.push(`${from} -> ${to} (the client may import only ${[...CLIENT_MAY_IMPORT].join(', ')})`);
      else if (rankB > rankA) bad.push(`${from} -> ${to} (${a} is below ${b})`);
      else if (rankB === rankA) bad.push(`${from} -> ${to} (${a} and ${b} are peers)`);
    }
  }
  return bad;
}

/** Every set of files that import each other in a loop (Tarjan's strongly connected components). */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Every `.ts` file under `dir`, keyed by its path relative to `dir` with `/` separators. */
export function readSources(dir: string): Map<string, string> {
  const sources = new Map<string, string>();
  const walk = (sub: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.ts')) sources.set(rel, fs.readFileSync(path.join(dir, rel), 'utf8'));
    }
  };
  walk('');
  return sources;
}
