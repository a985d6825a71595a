/**
 * `npm run bench -- idle` (issue #12): memory per idle connection at 10,000 connections (BENCH_IDLE), over
 * TCP and over TLS, for a nexo node and for raw Node `net`/`tls` servers in the same run (target: nexo ≤ 2×
 * raw). Each server runs in a process of its own (bench/idle-servers.ts); its resident memory (VmRSS) and
 * its JavaScript heap in use are read before and after the connections open, each time after two full
 * garbage collections, and the differences are divided by their number. A nexo connection is a session:
 * preface and HELLO sent, WELCOME received, then silence (well within the heartbeat and idle timeouts).
 * Connections come from 50 loopback addresses, so the node's per-address cap (256) holds. Memory is what
 * the process holds, so the machine's load does not move it much; RSS still moves by ~1 KiB per connection
 * from run to run (when the heap and malloc take their pages), the heap in use by a few bytes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { FrameType, PREFACE } from '../src/protocol/constants.js';
import { encodeFrame } from '../src/protocol/encoder.js';
import { packValue } from '../src/protocol/payload.js';
import { benchCerts, table } from './harness.js';
import type { IdleMemory, IdlePorts } from './idle-servers.js';

const COUNT = Number(process.env.BENCH_IDLE ?? 10_000);
const SOURCES = 50;
const PARALLEL = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server of idle-servers.ts: its ports, and its memory on demand (after a full collection). */
interface IdleServer {
  ports: IdlePorts;
  measure(): Promise<IdleMemory>;
  /** Connections the server holds now. */
  count(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(args: string[]): Promise<IdleServer> {
  const script = new URL('./idle-servers.js', import.meta.url);
  const child: ChildProcess = fork(script, args, { execArgv: ['--expose-gc'], stdio: 'inherit' });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`idle-servers.js exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (message) => {
        child.off('exit', onExit);
        resolve(message as T);
      });
    });
  const ports = await next<IdlePorts>();
  return {
    ports,
    measure: () => {
      const answer = next<IdleMemory>();
      child.send('measure');
      return answer;
    },
    count: async () => {
      const answer = next<{ open: number }>();
      child.send('count');
      return (await answer).open;
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

const HELLO = Buffer.concat([
  PREFACE,
  encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1], client: 'bench-idle' })),
]);

type Dial = (port: number, localAddress: string, ready: () => void) => net.Socket;
const dialTcp: Dial = (port, localAddress, ready) =>
  net.connect({ port, host: '127.0.0.1', localAddress }, ready);
const dialTls =
  (ca: Buffer): Dial =>
  (port, localAddress, ready) =>
    // localAddress reaches net.connect; Node's types leave it out of tls's options
    tls.connect(
      { port, host: '127.0.0.1', localAddress, ca, servername: 'localhost' } as tls.ConnectionOptions,
      ready,
    );

/**
 * Opens `count` connections, `PARALLEL` at a time; with `session`, each sends the preface and HELLO and is
 * open once the first reply bytes (WELCOME) arrive.
 */
async function open(count: number, port: number, dial: Dial, session: boolean): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const i = next++;
      const socket = dial(port, `127.0.1.${1 + (i % SOURCES)}`, () => {
        if (!session) return resolve();
        socket.write(HELLO);
      });
      socket.setTimeout(20_000, () => socket.destroy(new Error('no answer in 20 s')));
      if (session) socket.once('data', () => resolve());
      socket.on('error', reject);
      socket.on('data', () => {});
      sockets.push(socket);
    });
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < count) await one();
    }),
  );
  for (const s of sockets) s.setTimeout(0);
  return sockets;
}

/** Bytes of the server's memory per connection, after a warm-up set was opened and closed. */
async function perConnection(
  server: IdleServer,
  port: number,
  dial: Dial,
  session: boolean,
): Promise<IdleMemory> {
  for (const s of await open(500, port, dial, session)) s.destroy();
  await sleep(1500);
  const before = await server.measure();
  const sockets = await open(COUNT, port, dial, session);
  // A raw client is connected once the kernel took its connection, which may still wait in the listen
  // backlog, or be dropped when that overflowed (the client learns it later, or never while it is silent):
  // wait until the server's count stops growing, and divide by what it holds, not by what was dialled.
  let held = (await server.count()) - before.open;
  for (let waited = 0; waited < 20_000; waited += 1000) {
    await sleep(1000);
    const now = (await server.count()) - before.open;
    if (now === held) break;
    held = now;
  }
  // Long enough for idle sessions to let go of their output slabs (1 s without input, binary-connection.ts).
  await sleep(2000);
  const after = await server.measure();
  const n = after.open - before.open;
  for (const s of sockets) s.destroy();
  await sleep(500);
  return { rss: (after.rss - before.rss) / n, heapUsed: (after.heapUsed - before.heapUsed) / n, open: n };
}

export async function benchIdle(): Promise<{ text: string }> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-idle-'));
  const { cert, key, ca } = await benchCerts(work);
  const raw = await startServer(['raw', cert, key]);
  const nexo = await startServer(['nexo', cert, key, path.join(work, 'node')]);
  try {
    const r = {
      rawTcp: await perConnection(raw, raw.ports.tcp, dialTcp, false),
      nexoTcp: await perConnection(nexo, nexo.ports.tcp, dialTcp, true),
      rawTls: await perConnection(raw, raw.ports.tls, dialTls(ca), false),
      nexoTls: await perConnection(nexo, nexo.ports.tls, dialTls(ca), true),
    };
    const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
    const row = (label: string, rawM: number, nexoM: number, target: string) => [
      label,
      kib(rawM),
      kib(nexoM),
      `${(nexoM / rawM).toFixed(2)}x`,
      target,
    ];
    return {
      text: [
        table(
          [`${COUNT} idle connections`, 'raw Node', 'nexo (session)', 'nexo/raw', 'target'],
          [
            ['TCP connections the server held', String(r.rawTcp.open), String(r.nexoTcp.open), '', ''],
            row('TCP, memory (RSS) per connection', r.rawTcp.rss, r.nexoTcp.rss, '≤ 2x'),
            row('TCP, of it JS heap', r.rawTcp.heapUsed, r.nexoTcp.heapUsed, ''),
            ['TLS connections the server held', String(r.rawTls.open), String(r.nexoTls.open), '', ''],
            row('TLS, memory (RSS) per connection', r.rawTls.rss, r.nexoTls.rss, '≤ 2x'),
            row('TLS, of it JS heap', r.rawTls.heapUsed, r.nexoTls.heapUsed, ''),
          ],
        ),
        'Each server process after the connections opened minus before (both after a full GC), divided by their number.',
      ].join('\n'),
    };
  } finally {
    await raw.stop();
    await nexo.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
