import { type ChildProcess, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CLI } from './node.js';

/**
 * Writes `size` bytes of deterministic pseudo-random data (AES-256-CTR keystream of a seed) to `file`,
 * streaming in 4 MiB blocks, and returns their SHA-256. Fast (>1 GB/s) and reproducible.
 */
export async function writeRandomFile(file: string, size: number, seed = 'nexo'): Promise<string> {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(4 << 20);
  const handle = await fs.open(file, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(zeros.length, size - done);
      const block = cipher.update(zeros.subarray(0, n));
      hash.update(block);
      await handle.write(block, 0, block.length, done);
      done += n;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Content files in a node's store (`<dataDir>/files/blobs/ab/cd/<sha256>`). */
export function storedBlobs(dataDir: string): string[] {
  const root = path.join(dataDir, 'files', 'blobs');
  const out: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(name);
    }
  };
  walk(root);
  return out.sort();
}

/** Sizes of a node's unfinished uploads (`<dataDir>/files/partial/*`). */
export function partialSizes(dataDir: string): number[] {
  const dir = path.join(dataDir, 'files', 'partial');
  try {
    return readdirSync(dir).map((n) => statSync(path.join(dir, n)).size);
  } catch {
    return [];
  }
}

/** Resident set size of a process, bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export interface Spawned {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/** Runs the built CLI (`nexo ...args`) as a child process, collecting its output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, output: () => out, exited };
}

/** `nexo server` on a given port and data directory (so a test can kill it and start it again there). */
export async function startServerAt(port: number, dataDir: string, extra: string[] = []): Promise<Spawned> {
  const server = runCli([
    'server',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--data-dir',
    dataDir,
    '--log-format',
    'json',
    '--no-http', // tests run in parallel: no fixed HTTP port
    ...extra,
  ]);
  const deadline = Date.now() + 15_000;
  while (!server.output().includes('nexo node listening')) {
    if (server.child.exitCode !== null) throw new Error(`server exited early:\n${server.output()}`);
    if (Date.now() > deadline) throw new Error(`server did not start:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return server;
}

/** Polls `predicate` every few ms until it holds (or throws after `timeoutMs`). */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
