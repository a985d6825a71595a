/**
 * `npm run fuzz [-- --time SECONDS] [--only a,b] [--seed N]`: runs every fuzz target for SECONDS (default
 * 60) in a child process of its own (a fresh heap, --expose-gc for the memory check, and a watchdog that
 * kills a child stuck in one input: a hang). Prints inputs run per target and exits 1 on any failure.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type FuzzReport, progress, runTarget } from './engine.js';
import { TARGETS } from './targets/index.js';

const { values } = parseArgs({
  options: {
    time: { type: 'string', default: '60' },
    only: { type: 'string' },
    seed: { type: 'string' },
    child: { type: 'string' },
  },
});
const timeMs = Number(values.time) * 1000;
if (!(timeMs > 0)) throw new Error(`--time must be a positive number of seconds (got ${values.time})`);
const seed = values.seed === undefined ? undefined : Number(values.seed);

if (values.child !== undefined) {
  const target = TARGETS.find((t) => t.name === values.child);
  if (target === undefined) throw new Error(`no fuzz target ${values.child}`);
  // So the parent still knows how far a child got if the watchdog has to kill it.
  setInterval(() => process.stdout.write(`PROGRESS ${progress.runs}\n`), 2000).unref();
  const report = await runTarget(target, { timeMs, ...(seed === undefined ? {} : { seed }) });
  process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
  process.exit(0);
}

const names = values.only?.split(',') ?? TARGETS.map((t) => t.name);
for (const n of names) if (!TARGETS.some((t) => t.name === n)) throw new Error(`no fuzz target ${n}`);
const self = fileURLToPath(import.meta.url);
const reports: FuzzReport[] = [];
for (const name of names) {
  process.stdout.write(`fuzz ${name}: ${timeMs / 1000} s ...\n`);
  reports.push(await child(name));
  const r = reports.at(-1)!;
  process.stdout.write(`  ${r.runs} inputs${r.failure === undefined ? '' : `\n  FAILED ${r.failure}`}\n`);
}

console.log('\ntarget          inputs      inputs/s  slowest ms  heap growth  result');
for (const r of reports) {
  const heap = r.heapGrowth === undefined ? '-' : `${(r.heapGrowth / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `${r.name.padEnd(15)} ${String(r.runs).padStart(10)}  ${String(Math.round(r.runs / (r.elapsedMs / 1000))).padStart(8)}  ${r.slowestMs.toFixed(1).padStart(10)}  ${heap.padStart(11)}  ${r.failure === undefined ? 'ok' : 'FAILED'} (seed ${r.seed})`,
  );
}
const total = reports.reduce((n, r) => n + r.runs, 0);
console.log(`total ${total} inputs, ${reports.filter((r) => r.failure !== undefined).length} failures`);
process.exit(reports.some((r) => r.failure !== undefined) ? 1 : 0);

function child(name: string): Promise<FuzzReport> {
  return new Promise((resolve) => {
    const args = ['--expose-gc', '--import', 'tsx', self, '--child', name, '--time', String(timeMs / 1000)];
    if (seed !== undefined) args.push('--seed', String(seed));
    const proc = spawn(process.execPath, args, {
      cwd: path.dirname(path.dirname(self)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d));
    // Start-up, setup and a shrink get three minutes beyond the budget (a loaded machine is slow to load a
    // node); past that the child is stuck in one input.
    const watchdog = setTimeout(() => proc.kill('SIGKILL'), timeMs + 180_000);
    proc.on('close', (code, signal) => {
      clearTimeout(watchdog);
      const line = out.split('\n').find((l) => l.startsWith('REPORT '));
      const progressed = out
        .split('\n')
        .filter((l) => l.startsWith('PROGRESS '))
        .map((l) => Number(l.slice(9)));
      if (line !== undefined) resolve(JSON.parse(line.slice(7)) as FuzzReport);
      else
        resolve({
          name,
          runs: progressed.at(-1) ?? 0,
          seed: seed ?? 0,
          elapsedMs: timeMs,
          slowestMs: 0,
          heapGrowth: undefined,
          failure: signal === 'SIGKILL' ? 'hang: killed by the watchdog' : `the child exited ${code ?? signal}`,
        });
    });
  });
}
