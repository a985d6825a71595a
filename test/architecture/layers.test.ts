import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph, readSources, upwardImports } from './layers.js';

const SRC = path.resolve(import.meta.dirname, '../../src');

describe('layers (docs/architecture.md)', () => {
  const graph = importGraph(readSources(SRC));

  it('reads the whole of src/', () => {
    expect(graph.size).toBeGreaterThan(200);
    expect([...graph.values()].flat().length).toBeGreaterThan(800);
  });

  it('no layer imports from a layer above it, and the client only from protocol, wire, transport, errors, util', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('no files import each other in a loop', () => {
    expect(importCycles(graph)).toEqual([]);
  });
});

describe('the checker itself', () => {
  const sources = new Map([
    ['errors.ts', ''],
    ['wire/files.ts', "import { NexoError } from '../errors.js';"],
    ['services/files/index.ts', "import type { FileEntry } from '../../wire/files.js';"],
    ['client/api/files.ts', "import type { FileEntry } from '../../wire/files.js';"],
  ]);

  it('passes a graph that keeps the rules', () => {
    const graph = importGraph(sources);
    expect(upwardImports(graph)).toEqual([]);
    expect(importCycles(graph)).toEqual([]);
  });

  it('finds an upward import, a client import of the server side and an unknown folder', () => {
    const bad = new Map(sources);
    bad.set('wire/files.ts', "import { x } from '../services/files/index.js';");
    bad.set('client/api/files.ts', "export { y } from '../../services/files/index.js';");
    bad.set('misc/a.ts', "import('../errors.js');");
    expect(upwardImports(importGraph(bad))).toEqual([
      'wire/files.ts -> services/files/index.ts (wire is below services)',
      'client/api/files.ts -> services/files/index.ts (the client may import only protocol, wire, transport, errors, util)',
      "misc/a.ts: folder 'misc' has no place in LAYERS (test/architecture/layers.ts)",
    ]);
  });

  it('finds a cycle, type-only imports included, and an import of a missing file', () => {
    const looped = new Map(sources);
    looped.set('services/files/a.ts', "import type { B } from './b.js';");
    looped.set('services/files/b.ts', "import { a } from './a.js';");
    expect(importCycles(importGraph(looped))).toEqual([['services/files/a.ts', 'services/files/b.ts']]);
    looped.set('services/files/b.ts', "import { a } from './gone.js';");
    expect(() => importGraph(looped)).toThrow(/gone\.js/);
  });
});
