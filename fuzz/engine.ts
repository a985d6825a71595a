/**
 * The fuzz engine: fast-check properties run for a time budget instead of a fixed count, each input timed
 * (an input slower than `hangMs` is a hang and fails like a crash) and the heap measured after a warm-up
 * and at the end (growth beyond `maxHeapGrowth` fails: a parser that keeps something per input).
 *
 * Coverage-guided fuzzing with @jazzer.js/core was tried first: its 4.0.0 prebuilt addon needs GLIBC 2.38
 * (these machines have 2.36) and the 2.x line downloads its addon from GitHub at install, which these
 * machines cannot reach. So inputs come from fast-check: random bytes, and valid encodings (frames,
 * MessagePack, multipart bodies, sealed records) with random mutations, which reach the deep paths that
 * random bytes rarely do.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { NexoError } from '../src/errors.js';

export interface FuzzTarget<T> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /**
   * Throws when the input shows a defect; documented errors are caught inside (see `documented`). Returns
   * how many inputs it tried when it tries more than the one given (mutations of it, see `variants`).
   */
  check(input: T): void | number | Promise<void | number>;
  /** Once before the first input (start a node), and once after the last. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A slower target (over a socket) may take longer per input before it counts as a hang. */
  readonly hangMs?: number;
}

export interface FuzzOptions {
  timeMs: number;
  seed?: number;
  /** Default per-input limit; a target's own hangMs wins. */
  hangMs?: number;
  /** Heap growth between the end of the warm-up and the end of the run that counts as a leak. */
  maxHeapGrowth?: number;
}

export interface FuzzReport {
  name: string;
  runs: number;
  seed: number;
  elapsedMs: number;
  slowestMs: number;
  /** Heap growth after the warm-up, bytes; undefined without --expose-gc. */
  heapGrowth: number | undefined;
  failure: string | undefined;
}

/** Inputs that count as a hang: thrown from inside a property so fast-check shrinks them like a crash. */
export class Hang extends Error {}

/**
 * Runs `body`; a NexoError whose code is one of `codes` is the documented answer to bad input and is
 * returned, anything else thrown is a crash and propagates.
 */
export function documented<R>(codes: readonly string[], body: () => R): R | NexoError {
  try {
    return body();
  } catch (err) {
    if (err instanceof NexoError && codes.includes(err.code)) return err;
    throw err;
  }
}

export async function documentedAsync<R>(codes: readonly string[], body: () => Promise<R>): Promise<R | NexoError> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof NexoError && codes.includes(err.code)) return err;
    throw err;
  }
}

export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: got ${preview(actual)}, expected ${preview(expected)}`);
  }
}

export function assert(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

function preview(value: unknown): string {
  const text = JSON.stringify(value, (_k, v) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? `${v}n` : v,
  );
  return text === undefined ? String(value) : text.slice(0, 300);
}

const gc = (globalThis as { gc?: () => void }).gc;

async function heapAfterGc(): Promise<number | undefined> {
  if (gc === undefined) return undefined;
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** One slice of fast-check runs, stopped by time; returns the runs made and the failure if any. */
async function slice<T>(
  target: FuzzTarget<T>,
  timeMs: number,
  seed: number,
  hangMs: number,
  timing: { slowestMs: number },
): Promise<{ runs: number; failure: string | undefined }> {
  let runs = 0;
  /**
   * A slow input counts as a hang only if it is slow again when run once more: the first inputs of a target
   * pay for compilation, and a loaded machine pauses a process now and then.
   */
  const slow = (ms: number): boolean => {
    if (ms > timing.slowestMs) timing.slowestMs = ms;
    return ms > hangMs;
  };
  const hang = (first: number, again: number): never => {
    throw new Hang(`one input took ${first.toFixed(1)} ms and ${again.toFixed(1)} ms again (limit ${hangMs} ms)`);
  };
  variantLimit.ms = hangMs;
  /** Inputs tried by the last check: one, or the given one and its mutations (each timed by `variants`). */
  let tried = 1;
  const count = (n: void | number): void => {
    tried = typeof n === 'number' ? n : 1;
    runs += tried;
    progress.runs += tried;
  };
  // The event loop turns every few milliseconds, as in a node: what a check leaves to process.nextTick or
  // setImmediate (a destroyed stream's close) must run, or it piles up and looks like a leak.
  let lastTurn = performance.now();
  const property = fc.asyncProperty(target.arbitrary, async (input) => {
    if (performance.now() - lastTurn > 5) {
      await new Promise((resolve) => setImmediate(resolve));
      lastTurn = performance.now();
    }
    let started = performance.now();
    count(await target.check(input));
    const first = (performance.now() - started) / tried;
    if (!slow(first)) return;
    started = performance.now();
    await target.check(input);
    const again = (performance.now() - started) / tried;
    if (again > hangMs) hang(first, again);
  });
  const details = await fc.check(
    property,
    {
      numRuns: Number.MAX_SAFE_INTEGER,
      interruptAfterTimeLimit: timeMs,
      markInterruptAsFailure: false,
      seed,
      // Shrinking a crash is worth a while; a hang must not be shrunk forever.
      endOnFailure: false,
    },
  );
  if (!details.failed) return { runs, failure: undefined };
  const error = details.errorInstance;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    runs,
    failure: `${message}\n  counterexample: ${fc.stringify(details.counterexample)}\n  seed ${seed}, path ${details.counterexamplePath}`,
  };
}

/** Runs one target for `timeMs` (a tenth of it as warm-up before the heap baseline). */
export async function runTarget<T>(target: FuzzTarget<T>, options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  // Generous: on a machine shared by many (load 25 on two cores was seen) a plain check can take 100s of ms.
  const hangMs = target.hangMs ?? options.hangMs ?? 1000;
  const started = performance.now();
  const timing = { slowestMs: 0 };
  await target.setup?.();
  try {
    const warm = await slice(target, Math.max(50, options.timeMs / 10), seed, hangMs, timing);
    if (warm.failure !== undefined) return report(warm.runs, warm.failure, undefined);
    const before = await heapAfterGc();
    const main = await slice(target, options.timeMs - options.timeMs / 10, seed + 1, hangMs, timing);
    const after = await heapAfterGc();
    const growth = before === undefined || after === undefined ? undefined : after - before;
    const limit = options.maxHeapGrowth ?? 32 * 1024 * 1024;
    let failure = main.failure;
    if (failure === undefined && growth !== undefined && growth > limit) {
      failure = `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB over the run (limit ${limit / 2 ** 20} MiB)`;
    }
    return report(warm.runs + main.runs, failure, growth);
  } finally {
    await target.teardown?.();
  }

  function report(runs: number, failure: string | undefined, heapGrowth: number | undefined): FuzzReport {
    return {
      name: target.name,
      runs,
      seed,
      elapsedMs: performance.now() - started,
      slowestMs: timing.slowestMs,
      heapGrowth,
      failure,
    };
  }
}

/** Bytes with up to `max` random single-byte changes, insertions, deletions and truncation. */
export function mutated(bytes: fc.Arbitrary<Uint8Array>, max = 4): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({
    kind: fc.constantFrom('xor', 'set', 'insert', 'delete', 'truncate'),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  });
  return fc.tuple(bytes, fc.array(edit, { maxLength: max })).map(([original, edits]) => {
    let out = Buffer.from(original);
    for (const e of edits) {
      const at = out.length === 0 ? 0 : e.at % (out.length + 1);
      if (e.kind === 'xor' && at < out.length) out[at]! ^= e.value || 1;
      else if (e.kind === 'set' && at < out.length) out[at] = e.value;
      else if (e.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.of(e.value), out.subarray(at)]);
      else if (e.kind === 'delete' && at < out.length)
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
      else if (e.kind === 'truncate') out = out.subarray(0, at);
    }
    return out;
  });
}

/** Splits `bytes` at the given offsets (taken modulo its length, sorted): the reads of a socket. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  if (bytes.length === 0) return [];
  const points = [...new Set(cuts.map((c) => c % bytes.length))].filter((c) => c > 0).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(bytes.subarray(from, p));
    from = p;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

/** The per-input limit of the target running now, for the inputs `variants` makes. */
const variantLimit = { ms: 1000 };

/** Inputs run so far in this process, across slices: `npm run fuzz` prints it while a target runs. */
export const progress = { runs: 0 };

/** mulberry32: a small fast PRNG for the mutations a check makes of its input. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Interesting byte values for a mutation to write: boundaries of lengths, types and MessagePack heads. */
const MAGIC = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x8e, 0x0a, 0x0d, 0xc0, 0xc1, 0xd9, 0xdc, 0xde, 0xdf, 0xcf, 0xd3];

/** One mutation of `bytes` (1-4 edits: flip, set, magic byte, insert, delete, truncate, duplicate a slice). */
export function mutateOnce(bytes: Uint8Array, random: () => number): Uint8Array {
  let out = Buffer.from(bytes);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (out.length + 1));
    const kind = Math.floor(random() * 7);
    const value = Math.floor(random() * 256);
    if (kind === 0 && at < out.length) out[at]! ^= 1 << Math.floor(random() * 8);
    else if (kind === 1 && at < out.length) out[at] = value;
    else if (kind === 2 && at < out.length) out[at] = MAGIC[value % MAGIC.length]!;
    else if (kind === 3) out = Buffer.concat([out.subarray(0, at), Buffer.of(value), out.subarray(at)]);
    else if (kind === 4 && at < out.length) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else if (kind === 5) out = out.subarray(0, at);
    else if (kind === 6 && out.length > 0) {
      const from = Math.floor(random() * out.length);
      const piece = out.subarray(from, from + 1 + Math.floor(random() * 16));
      out = Buffer.concat([out.subarray(0, at), piece, out.subarray(at)]);
    }
  }
  return out;
}

/**
 * Runs `check` on `count` mutations of `bytes` (made from `seed`, so a failure can be replayed) and returns
 * `count`. A failure names the mutated bytes in hex.
 */
export function variants(bytes: Uint8Array, count: number, seed: number, check: (variant: Uint8Array) => void): number {
  const random = prng(seed);
  for (let i = 0; i < count; i++) {
    const variant = mutateOnce(bytes, random);
    try {
      let started = performance.now();
      check(variant);
      const first = performance.now() - started;
      if (first > variantLimit.ms) {
        started = performance.now();
        check(variant);
        const again = performance.now() - started;
        if (again > variantLimit.ms) {
          throw new Hang(`one input took ${first.toFixed(1)} ms and ${again.toFixed(1)} ms again (limit ${variantLimit.ms} ms)`);
        }
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n  on the mutated input ${Buffer.from(variant).toString('hex').slice(0, 2000)}`, {
        cause: err,
      });
    }
  }
  return count;
}
