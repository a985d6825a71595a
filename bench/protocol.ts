/**
 * Issue #2 benchmark: round trips per second and latency of
 *   (a) a raw Node TCP echo of length-prefixed frames (the ceiling),
 *   (b) nexo echo over the binary protocol with the nexo client library,
 *   (c) nexo calc of a small expression,
 * each at 1 in flight, 64 in flight on one connection, and 16 connections x 16 in flight.
 */
import net from 'node:net';
import { connect } from '../src/client/index.js';
import { FrameType, HEADER_SIZE, PREFACE } from '../src/protocol/constants.js';
import { encodeFrame } from '../src/protocol/encoder.js';
import { packValue } from '../src/protocol/payload.js';
import {
  clientLoop,
  fmt,
  histogram,
  type LoadResult,
  measureWindow,
  spawnBenchServer,
  summarize,
  table,
} from './harness.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_MS = 700;
const PAYLOAD = 'hello, nexo bench';

interface Shape {
  name: string;
  connections: number;
  inFlight: number;
}

export const SHAPES: Shape[] = [
  { name: '1 in flight', connections: 1, inFlight: 1 },
  { name: '64 in flight, 1 conn', connections: 1, inFlight: 64 },
  { name: '16 conns x 16 in flight', connections: 16, inFlight: 16 },
];

/**
 * Both load generators check every reply with this, so they do the same work per reply: in lockstep (a
 * batch out, a batch back) the client's time per reply adds to every round trip, and a check that only
 * one side paid for would tilt the ratio.
 */
function sameBytes(data: Uint8Array, offset: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (data[offset + i] !== want[i]) return false;
  return true;
}

/**
 * Raw client: keeps `inFlight` frames outstanding per socket, one write per batch of replies, and checks
 * that each reply is the frame it sent.
 */
export async function rawLoad(port: number, shape: Shape): Promise<LoadResult> {
  const h = histogram();
  const body = Buffer.from(PAYLOAD);
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  let recording = false;
  let count = 0;
  let stop = false;
  let failure: Error | undefined;
  const sockets = await Promise.all(
    Array.from(
      { length: shape.connections },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
        }),
    ),
  );
  for (const socket of sockets) {
    const sent: number[] = [];
    let head = 0;
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      let replies = 0;
      const now = performance.now();
      while (data.length - offset >= 4) {
        const length = data.readUInt32BE(offset);
        if (data.length - offset - 4 < length) break;
        if (length !== body.length || !sameBytes(data, offset + 4, body))
          failure ??= new Error('the raw echo returned other bytes');
        offset += 4 + length;
        const started = sent[head++]!;
        if (recording) {
          h.recordValue(Math.max(1, Math.round((now - started) * 1000)));
          count++;
        }
        replies++;
      }
      pending = data.subarray(offset);
      if (head > 4096) {
        sent.splice(0, head);
        head = 0;
      }
      if (stop || replies === 0) return;
      const out = Buffer.allocUnsafe(frame.length * replies);
      for (let i = 0; i < replies; i++) {
        frame.copy(out, i * frame.length);
        sent.push(now);
      }
      socket.write(out);
    });
    const first = Buffer.allocUnsafe(frame.length * shape.inFlight);
    const now = performance.now();
    for (let i = 0; i < shape.inFlight; i++) {
      frame.copy(first, i * frame.length);
      sent.push(now);
    }
    socket.write(first);
  }
  const elapsed = await measureWindow({ warmupMs: WARMUP_MS, seconds: SECONDS }, (on) => {
    recording = on;
  });
  stop = true;
  for (const s of sockets) s.destroy();
  if (failure) throw failure;
  return summarize(h, count, elapsed);
}

/**
 * The same lean load generator, speaking nexo: pre-encoded REQUEST frames, replies matched by id and checked
 * byte for byte against the expected RESPONSE. It measures the server, as rawLoad does for the raw echo.
 */
export async function nexoLeanLoad(
  port: number,
  shape: Shape,
  request: unknown[],
  expected: unknown,
  /** How to open a connection (bench/tls.ts: a TLS socket); plain TCP to 127.0.0.1:port by default. */
  dial: (ready: () => void) => net.Socket = (ready) =>
    net.connect({ port, host: '127.0.0.1', noDelay: true }, ready),
): Promise<LoadResult> {
  const h = histogram();
  const payload = packValue(request);
  const want = Buffer.from(packValue(expected));
  const frameSize = HEADER_SIZE + payload.length;
  let recording = false;
  let count = 0;
  let stop = false;
  let failure: Error | undefined;
  const hello = Buffer.concat([
    PREFACE,
    encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1], client: 'bench' })),
  ]);
  const sockets = await Promise.all(
    Array.from(
      { length: shape.connections },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = dial(() => resolve(s));
        }),
    ),
  );
  for (const socket of sockets) {
    const sentAt = new Float64Array(1 << 16);
    let nextId = 1;
    let pending: Buffer = Buffer.alloc(0);
    let welcomed = false;
    const fill = (out: Buffer, count: number, now: number) => {
      for (let i = 0; i < count; i++) {
        const id = nextId;
        nextId = nextId === 0xffff ? 1 : nextId + 1;
        const at = i * frameSize;
        out.writeUInt32BE(payload.length, at);
        out[at + 4] = FrameType.REQUEST;
        out[at + 5] = 0;
        out.writeUInt32BE(id, at + 6);
        out.set(payload, at + HEADER_SIZE);
        sentAt[id] = now;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!welcomed) {
        const length = data.length < 4 + HEADER_SIZE ? Number.POSITIVE_INFINITY : data.readUInt32BE(4);
        if (data.length < 4 + HEADER_SIZE + length) {
          pending = data;
          return;
        }
        data = data.subarray(4 + HEADER_SIZE + length);
        welcomed = true;
        const first = Buffer.allocUnsafe(frameSize * shape.inFlight);
        fill(first, shape.inFlight, performance.now());
        socket.write(first);
      }
      let offset = 0;
      let replies = 0;
      const now = performance.now();
      while (data.length - offset >= HEADER_SIZE) {
        const length = data.readUInt32BE(offset);
        if (data.length - offset - HEADER_SIZE < length) break;
        const type = data[offset + 4];
        const id = data.readUInt32BE(offset + 6);
        if (
          type !== FrameType.RESPONSE ||
          length !== want.length ||
          !sameBytes(data, offset + HEADER_SIZE, want)
        )
          failure ??= new Error(`unexpected reply to ${id}: type ${type}`);
        offset += HEADER_SIZE + length;
        if (recording) {
          h.recordValue(Math.max(1, Math.round((now - sentAt[id]!) * 1000)));
          count++;
        }
        replies++;
      }
      pending = data.subarray(offset);
      if (stop || replies === 0) return;
      const out = Buffer.allocUnsafe(frameSize * replies);
      fill(out, replies, now);
      socket.write(out);
    });
    socket.write(hello);
  }
  const elapsed = await measureWindow({ warmupMs: WARMUP_MS, seconds: SECONDS }, (on) => {
    recording = on;
  });
  stop = true;
  for (const s of sockets) s.destroy();
  if (failure) throw failure;
  return summarize(h, count, elapsed);
}

/** nexo client library: `inFlight` concurrent request loops per connection. */
async function nexoLoad(
  port: number,
  shape: Shape,
  call: (c: Awaited<ReturnType<typeof connect>>) => Promise<unknown>,
): Promise<LoadResult> {
  const clients = await Promise.all(
    Array.from({ length: shape.connections }, () => connect({ endpoints: [`127.0.0.1:${port}`] })),
  );
  return clientLoop(clients, shape.inFlight, call, { warmupMs: WARMUP_MS, seconds: SECONDS });
}

export interface ProtocolRow {
  shape: string;
  raw: LoadResult;
  echo: LoadResult;
  calc: LoadResult;
  /** The same echo through the nexo client library (end to end, what a TypeScript user gets). */
  library: LoadResult;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function faster(a: LoadResult, b: LoadResult): LoadResult {
  return b.rate > a.rate ? b : a;
}

/** The raw ceiling's write batch sizes (frames per write); the fastest counts (see servers.ts). */
export const RAW_POLICIES = [8, 16, 32];

export async function benchProtocol(): Promise<{ rows: ProtocolRow[]; text: string }> {
  const raws = await Promise.all(RAW_POLICIES.map((n) => spawnBenchServer('servers.js', ['raw', String(n)])));
  const nexo = await spawnBenchServer('servers.js', ['nexo']);
  const rawBest = async (shape: Shape) => {
    let best: LoadResult | undefined;
    for (const raw of raws) {
      const result = await rawLoad(raw.port, shape);
      best = best === undefined ? result : faster(best, result);
    }
    return best!;
  };
  const rows: ProtocolRow[] = [];
  try {
    for (const shape of SHAPES) {
      // Rounds of every case, the best round of each counting: loopback round trips on these VMs swing by
      // a third from one second to the next, and interleaving gives the ceiling and nexo the same swings.
      let row: ProtocolRow | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const next: ProtocolRow = {
          shape: shape.name,
          raw: await rawBest(shape),
          echo: await nexoLeanLoad(nexo.port, shape, ['echo', 'echo', PAYLOAD], PAYLOAD),
          calc: await nexoLeanLoad(nexo.port, shape, ['calc', 'eval', { expr: '2*(3+4)' }], { value: '14' }),
          library: await nexoLoad(nexo.port, shape, (c) => c.echo.echo(PAYLOAD)),
        };
        row =
          row === undefined
            ? next
            : {
                shape: shape.name,
                raw: faster(row.raw, next.raw),
                echo: faster(row.echo, next.echo),
                calc: faster(row.calc, next.calc),
                library: faster(row.library, next.library),
              };
      }
      rows.push(row!);
    }
  } finally {
    for (const raw of raws) await raw.stop();
    await nexo.stop();
  }
  const text = `best of ${ROUNDS} interleaved rounds of ${SECONDS} s per case; raw: the fastest of ${RAW_POLICIES.join(', ')} frames per write\n${table(
    [
      'round trips',
      'raw rt/s',
      'p50',
      'p99',
      'echo rt/s',
      'p50',
      'p99',
      'echo/raw',
      'calc rt/s',
      'p50',
      'p99',
      'calc/raw',
      'client lib echo',
      'p99',
    ],
    rows.map((r) => [
      r.shape,
      ...fmt.load(r.raw),
      ...fmt.load(r.echo),
      fmt.pct(r.echo.rate / r.raw.rate),
      ...fmt.load(r.calc),
      fmt.pct(r.calc.rate / r.raw.rate),
      `${fmt.rate(r.library.rate)} (${fmt.pct(r.library.rate / r.raw.rate)})`,
      fmt.us(r.library.p99),
    ]),
  )}`;
  return { rows, text };
}
