/**
 * Acceptance: a 2 GB random file uploads and downloads back byte-identical through the real CLI and a
 * spawned server, and neither process's memory grows with the file (both are sampled from /proc while the
 * bytes flow). NEXO_BIG_FILE_MB changes the size (for a quick local run).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  partialSizes,
  rssOf,
  runCli,
  type Spawned,
  sha256File,
  startServerAt,
  writeRandomFile,
} from '../helpers/files.js';
import { freePort } from '../helpers/node.js';

const SIZE = Number(process.env.NEXO_BIG_FILE_MB ?? 2048) * 1024 * 1024;
/** "A few tens of MB": the most either process may grow once the transfer is under way. */
const MAX_GROWTH = 80 * 1024 * 1024;
/** How much the peak may rise from 5-30% of the transfer to its last quarter. */
const MAX_DRIFT = 16 * 1024 * 1024;
const MiB = 1024 * 1024;

const work = mkdtempSync(path.join(os.tmpdir(), 'nexo-big-'));
const running: Spawned[] = [];
afterAll(() => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

interface Sample {
  server: number;
  client: number;
  done: number;
}

/** Samples both processes' RSS every 50 ms until the client exits. */
async function watch(server: Spawned, client: Spawned, progress: () => number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const timer = setInterval(() => {
    try {
      samples.push({ server: rssOf(server.child.pid!), client: rssOf(client.child.pid!), done: progress() });
    } catch {
      // the client just exited
    }
  }, 50);
  const code = await client.exited;
  clearInterval(timer);
  expect(code, client.output()).toBe(0);
  return samples;
}

interface Growth {
  /** The server: its RSS once 5% was transferred. A client: the peak RSS of an idle client (nexo ping). */
  base: number;
  peak: number;
  /** Peak minus base: what the transfer costs. */
  growth: number;
  /** Peak over the last 25% minus peak over 5..30%: memory that grows with the bytes moved. */
  drift: number;
}

function growth(samples: Sample[], size: number, side: 'server' | 'client', idle?: number): Growth {
  const during = samples.filter((s) => s.done >= size * 0.05);
  // Two windows of the same length (the peak of a longer window is higher by chance: RSS is a GC sawtooth).
  const early = during.filter((s) => s.done < size * 0.3);
  const late = during.filter((s) => s.done >= size * 0.75);
  expect(early.length, `${side}: samples between 5% and 30%`).toBeGreaterThan(2);
  expect(late.length, `${side}: samples after 75%`).toBeGreaterThan(2);
  const base = idle ?? during[0]![side];
  const peak = Math.max(...during.map((s) => s[side]));
  return {
    base,
    peak,
    growth: peak - base,
    drift: Math.max(...late.map((s) => s[side])) - Math.max(...early.map((s) => s[side])),
  };
}

const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

describe(`a ${SIZE / MiB} MiB file`, () => {
  it('uploads and downloads back byte-identical, with flat RSS on both sides', {
    timeout: 600_000,
  }, async () => {
    const source = path.join(work, 'big.bin');
    const hash = await writeRandomFile(source, SIZE, 'big');
    const port = await freePort();
    const dataDir = path.join(work, 'data');
    const server = await startServerAt(port, dataDir);
    running.push(server);
    const env = { NEXO_CACHE_DIR: path.join(work, 'cache') };
    // What a CLI client costs without a transfer: the same modules, a connection, a few requests.
    const idle = runCli(['ping', '-c', '15', '-i', '40', '--port', String(port)], env);
    running.push(idle);
    let idleClient = 0;
    const sampler = setInterval(() => {
      try {
        idleClient = Math.max(idleClient, rssOf(idle.child.pid!));
      } catch {
        // exited
      }
    }, 20);
    expect(await idle.exited).toBe(0);
    clearInterval(sampler);

    const upload = runCli(['upload', source, '--json', '--port', String(port)], env);
    running.push(upload);
    const up = await watch(server, upload, () => partialSizes(dataDir)[0] ?? SIZE);
    expect(JSON.parse(upload.output().trim().split('\n').at(-1)!)).toMatchObject({
      sha256: hash,
      size: SIZE,
    });

    const dest = path.join(work, 'big.out');
    const download = runCli(['download', 'big.bin', '-o', dest, '--json', '--port', String(port)], env);
    running.push(download);
    const partial = `${dest}.nexo-part`;
    const down = await watch(server, download, () => (existsSync(partial) ? statSync(partial).size : SIZE));
    expect(await sha256File(dest)).toBe(hash);

    const measured = {
      'server during upload': growth(up, SIZE, 'server'),
      'client during upload': growth(up, SIZE, 'client', idleClient),
      'server during download': growth(down, SIZE, 'server'),
      'client during download': growth(down, SIZE, 'client', idleClient),
    };
    console.log(
      [
        `${SIZE / MiB} MiB round trip; RSS base (server: at 5%; client: an idle client) → peak, and drift (last quarter vs 5-30%):`,
        ...Object.entries(measured).map(
          ([what, g]) => `  ${what}: ${mb(g.base)} → ${mb(g.peak)} (+${mb(g.growth)}), drift ${mb(g.drift)}`,
        ),
      ].join('\n'),
    );
    for (const [what, g] of Object.entries(measured)) {
      // Bounded: garbage chunks wait for V8's external-memory GC threshold (~64 MiB), then are collected.
      expect(g.growth, `${what} grew ${mb(g.growth)}`).toBeLessThan(MAX_GROWTH);
      // Flat: nothing accumulates with the bytes moved (a leak of 1.5% of them would add ~21 MiB between the
      // windows, which are 70% of the transfer apart).
      expect(g.drift, `${what} drifted ${mb(g.drift)}`).toBeLessThan(MAX_DRIFT);
    }
    server.child.kill('SIGTERM');
    await server.exited;
  });
});
