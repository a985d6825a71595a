/**
 * The line `nexo upload` and `nexo download` print after a transfer must agree with the progress printed
 * just before it: once it read "2.9 MiB received in 0.0 s, 101.6 MB/s" under a final progress line of
 * 272.7 MB/s (the summary timed the connection and the final checks too, and rounded 30 ms to 0.0 s).
 * Real server, real CLI, plain (non-terminal) progress lines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSeconds } from '../../src/cli/transfer-progress.js';
import { runCli, type Spawned, startServerAt, writeRandomFile } from '../helpers/files.js';
import { freePort } from '../helpers/node.js';

let work: string;
let server: Spawned;
let port: number;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'nexo-cli-summary-'));
  port = await freePort();
  server = await startServerAt(port, path.join(work, 'data'));
});

afterAll(() => {
  if (server.child.exitCode === null) server.child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

async function nexo(args: string[]): Promise<string> {
  const run = runCli([...args, '--port', String(port)], {
    NEXO_CACHE_DIR: path.join(work, 'cache'),
    NEXO_PROGRESS_INTERVAL: '10ms',
  });
  const code = await run.exited;
  expect(code, run.output()).toBe(0);
  return run.output();
}

const MIB = 1024 * 1024;
const UNIT = { ms: 1e-3, s: 1 } as const;

/** The final progress line's rate and the summary's bytes, time and rate, as printed. */
function parse(output: string, verb: string, verbed: string) {
  const finals = [...output.matchAll(new RegExp(`^${verb} .*\\(100\\.0%\\) ([\\d.]+) MB/s$`, 'gm'))];
  expect(finals.length, output).toBeGreaterThan(0);
  const summary = new RegExp(
    `^([\\d.]+) MiB ${verbed} in ([\\d.]+) (ms|s), ([\\d.]+) MB/s(?: \\(([\\d.]+) (ms|s) in all\\))?$`,
    'm',
  ).exec(output);
  expect(summary, output).not.toBeNull();
  const [, mib, time, unit, rate, all, allUnit] = summary!;
  return {
    progressRate: finals.at(-1)![1]!,
    mib: Number(mib),
    seconds: Number(time) * UNIT[unit as 'ms' | 's'],
    rate: rate!,
    allSeconds: all === undefined ? undefined : Number(all) * UNIT[allUnit as 'ms' | 's'],
  };
}

/** The rate printed must be the bytes printed over the time printed, within the rounding of what is shown. */
function expectConsistent(s: ReturnType<typeof parse>, bytes: number): void {
  expect(s.mib).toBeCloseTo(bytes / MIB, 1);
  expect(s.seconds).toBeGreaterThan(0);
  const implied = bytes / s.seconds / 1e6;
  // Time shown with 3 significant digits at least (0.42 ms, 11.2 ms, 250 ms, 3.44 s): within 1.2%.
  expect(Math.abs(implied - Number(s.rate)) / Number(s.rate)).toBeLessThan(0.02);
  if (s.allSeconds !== undefined) expect(s.allSeconds).toBeGreaterThan(s.seconds);
}

describe('transfer summaries agree with the progress they follow', () => {
  it('download: the final progress rate is the summary rate, and that rate is bytes over time', async () => {
    const source = path.join(work, 'video.bin');
    const size = 3 * MIB + 12345;
    await writeRandomFile(source, size);
    const up = parse(await nexo(['upload', source]), 'upload', 'sent');
    expect(up.rate).toBe(up.progressRate);
    expectConsistent(up, size);

    const out = await nexo(['download', 'video.bin', '-o', path.join(work, 'copy.bin')]);
    const down = parse(out, 'download', 'received');
    expect(down.rate, out).toBe(down.progressRate);
    expectConsistent(down, size);
  });

  it('durations keep three significant digits at any size', () => {
    expect(formatSeconds(0.00042)).toBe('0.42 ms');
    expect(formatSeconds(0.0112)).toBe('11.2 ms');
    expect(formatSeconds(0.25)).toBe('250 ms');
    expect(formatSeconds(3.441)).toBe('3.44 s');
    expect(formatSeconds(61.52)).toBe('61.5 s');
  });
});
