import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NexoNode, type NodeExtras } from '../../src/node/node.js';
import type { ServerOptionsInput } from '../../src/options/options.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

/** A fresh empty directory for a node's stores. */
export function tempDataDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'nexo-test-'));
}

/**
 * An in-process node on a free loopback port, with its own temporary data directory and logs off (unless
 * NEXO_TEST_LOG is set). The HTTP gateway is off unless the test asks for it (`http: { port: 0 }`), so
 * tests never fight over port 8080.
 */
export async function startNode(
  options: ServerOptionsInput = {},
  extras: NodeExtras = {},
): Promise<NexoNode & { port: number }> {
  const node = new NexoNode(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir: tempDataDir(),
      log: { level: (process.env.NEXO_TEST_LOG as 'info') ?? 'silent' },
      ...options,
      http: options.http ?? { enabled: false },
      // HAProxy's agent-check is on by default in cluster mode, on port 5555: tests must not fight over it.
      agent: options.agent ?? { enabled: false },
    },
    extras,
  );
  const { port } = await node.start();
  return Object.assign(node, { port });
}

/** The built CLI, run as a user runs it (no stdin, no colours, no NEXO_SERVER from the environment). */
export function runCli(
  args: string[],
  timeout = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '' },
      timeout,
    });
    child.stdin!.end();
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The real `nexo server` in a child process (the built CLI), for signals and isolation from the test's loop.
 * It gets a temporary data directory unless `args` names one, and no HTTP gateway unless `args` give it a
 * port (`--http-port`).
 */
export async function spawnServer(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const port = await freePort();
  if (!args.includes('--data-dir')) args = ['--data-dir', tempDataDir(), ...args];
  if (!args.includes('--http-port') && !args.includes('--no-http')) args = ['--no-http', ...args];
  if (!args.includes('--agent-port') && !args.includes('--no-agent')) args = ['--no-agent', ...args];
  const child = spawn(
    process.execPath,
    [CLI, 'server', '--host', '127.0.0.1', '--port', String(port), '--log-format', 'json', ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  // Generous: on a loaded shared machine a node with --storage postgres took over 15 s to start.
  const deadline = Date.now() + 60_000;
  while (!output.includes('nexo node listening')) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    port,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      // Already ended (by its own exit or a signal): there will be no further 'exit' event to wait for.
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** Reads from a plain TCP socket until it closes or `until` matches. */
export function textSession(
  port: number,
  input: string,
  options: { until?: RegExp; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(input));
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`text session timed out; got: ${JSON.stringify(out)}`));
    }, options.timeoutMs ?? 5000);
    socket.on('data', (d) => {
      out += d;
      if (options.until?.test(out)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(out);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}
