/**
 * `npm run bench -- idle` (issue #12): memory per idle connection at 10,000 connections (BENCH_IDLE), over
 * TCP and over TLS, for a nexo node and for raw Node `net`/`tls` servers in the same run (target: nexo ≤ 2×
 * raw). Each server runs in a process of its own; its resident memory (VmRSS) is read from /proc before
 * and after the connections open, and the difference is divided by their number. A nexo connection is a
 * session: preface and HELLO sent, WELCOME received, then silence (well within the heartbeat and idle
 * timeouts). Connections come from 50 loopback addresses, so the node's per-address cap (256) holds.
 * Memory is what the kernel says the process holds, so the machine's load does not move it much.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { FrameType, PREFACE } from '../src/protocol/constants.js';
import { encodeFrame } from '../src/protocol/encoder.js';
import { packValue } from '../src/protocol/payload.js';
import { benchCerts, spawnBenchServer, table } from './harness.js';

const COUNT = Number(process.env.BENCH_IDLE ?? 10_000);
const SOURCES = 50;
const PARALLEL = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory of a process, in bytes. */
function rss(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
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
async function perConnection(pid: number, port: number, dial: Dial, session: boolean): Promise<number> {
  for (const s of await open(500, port, dial, session)) s.destroy();
  await sleep(1500);
  const before = rss(pid);
  const sockets = await open(COUNT, port, dial, session);
  await sleep(2000);
  const after = rss(pid);
  for (const s of sockets) s.destroy();
  await sleep(500);
  return (after - before) / COUNT;
}

export async function benchIdle(): Promise<{ text: string }> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-idle-'));
  const { cert, key, ca } = await benchCerts(work);
  const raw = await spawnBenchServer('idle-servers.js', [cert, key]);
  const nexo = await spawnBenchServer('file-servers.js', ['nexo', path.join(work, 'node'), cert, key]);
  try {
    const r = {
      rawTcp: await perConnection(raw.pid!, raw.port, dialTcp, false),
      nexoTcp: await perConnection(nexo.pid!, nexo.port, dialTcp, true),
      rawTls: await perConnection(raw.pid!, raw.tlsPort!, dialTls(ca), false),
      nexoTls: await perConnection(nexo.pid!, nexo.tlsPort!, dialTls(ca), true),
    };
    const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
    return {
      text: [
        table(
          [`${COUNT} idle connections`, 'raw Node', 'nexo (session)', 'nexo/raw', 'target'],
          [
            [
              'TCP, memory per connection',
              kib(r.rawTcp),
              kib(r.nexoTcp),
              `${(r.nexoTcp / r.rawTcp).toFixed(2)}x`,
              '≤ 2x',
            ],
            [
              'TLS, memory per connection',
              kib(r.rawTls),
              kib(r.nexoTls),
              `${(r.nexoTls / r.rawTls).toFixed(2)}x`,
              '≤ 2x',
            ],
          ],
        ),
        'RSS of each server process after the connections opened minus before, divided by their number.',
      ].join('\n'),
    };
  } finally {
    await raw.stop();
    await nexo.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
