/**
 * The measuring loop of the in-process diagnostics (server-path.ts, client-path.ts): the CPU time this
 * process spends per request (process.cpuUsage, user + system), which a loaded machine inflates far less
 * than wall-clock time, beside the wall-clock figure. `--count N` runs N batches once after the warm-up and
 * prints nothing else, for instruction counts under `valgrind --tool=callgrind` (run two counts and take the
 * difference: that removes start-up and JIT warm-up).
 */
import { pathToFileURL } from 'node:url';

/** One diagnostic's setup: `run(batches)` sends that many batches and checks every reply. */
export interface Path {
  run(batches: number): Promise<void>;
  close(): Promise<void>;
}

export interface PathResult {
  /** µs of CPU (user + system) per request, median of the runs. */
  cpu: number;
  /** µs of wall-clock time per request, median of the runs. */
  wall: number;
  /** Fastest run by CPU. */
  best: number;
  requests: number;
}

/** `run(batches)` sends `batches` batches of `perBatch` requests and resolves when every reply is checked. */
export async function measurePath(
  run: (batches: number) => Promise<void>,
  perBatch: number,
  options: { runs?: number; batches?: number; warmup?: number } = {},
): Promise<PathResult> {
  const runs = options.runs ?? 7;
  const batches = options.batches ?? 10_000;
  await run(options.warmup ?? 5000); // let the JIT settle
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const before = process.cpuUsage();
    await run(batches);
    const used = process.cpuUsage(before);
    const n = batches * perBatch;
    wall.push(((performance.now() - started) * 1000) / n);
    cpu.push((used.user + used.system) / n);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    cpu: median(cpu),
    wall: median(wall),
    best: Math.min(...cpu),
    requests: runs * batches * perBatch,
  };
}

/**
 * The fixed-count mode: `warm` batches, then `count` batches. With `--sync` it says `ready` on stdout and
 * waits for a line on stdin before the counted batches, and `done` after them (then waits again): a driver
 * turns callgrind's instrumentation on and off there (`valgrind --instr-atstart=no`, `callgrind_control
 * -i on|off`), so only the counted requests are counted, not start-up or warm-up.
 */
export async function runCounted(run: (batches: number) => Promise<void>, count: number, warm = 2000) {
  const sync = process.argv.includes('--sync');
  const lines = sync ? stdinLines() : undefined;
  await run(warm);
  if (lines) {
    process.stdout.write('ready\n');
    await lines.next();
  }
  await run(count);
  if (lines) {
    process.stdout.write('done\n');
    await lines.next();
  }
}

async function* stdinLines(): AsyncGenerator<void> {
  for await (const _ of process.stdin) yield;
}

/** Measures an opened path and closes it. */
export async function measureOpened(path: Path, perBatch: number): Promise<PathResult> {
  try {
    return await measurePath(path.run, perBatch);
  } finally {
    await path.close();
  }
}

/**
 * The command line of a diagnostic script (`<case> [--count N [--sync]]`), when `meta` (its import.meta.url)
 * is the script node runs: prints the CPU per request of the case, or runs the fixed count.
 */
export async function pathMain(
  meta: string,
  label: string,
  cases: string[],
  open: (name: string) => Promise<Path>,
  perBatch: number,
): Promise<void> {
  if (meta !== pathToFileURL(process.argv[1] ?? '').href) return;
  const name = process.argv.slice(2).find((a) => !a.startsWith('-') && !/^\d+$/.test(a)) ?? cases[0]!;
  if (!cases.includes(name)) {
    console.error(`usage: ${label}-path.js ${cases.join('|')} [--count N [--sync]]`);
    process.exit(2);
  }
  const at = process.argv.indexOf('--count');
  const path = await open(name);
  if (at !== -1) {
    await runCounted(path.run, Number(process.argv[at + 1]));
    await path.close();
  } else {
    const r = await measureOpened(path, perBatch);
    console.log(
      `${label} ${name}: ${r.cpu.toFixed(3)} µs CPU per request (wall ${r.wall.toFixed(3)}; best ${r.best.toFixed(3)}; median of 7 runs, ${r.requests} requests)`,
    );
  }
}
