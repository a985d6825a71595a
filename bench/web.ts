/**
 * Issue #5 benchmark:
 *   (a) echo round trips per second through the nexo client library over WebSocket (/ws), next to the same
 *       client over raw TCP to the same node, at 1 in flight, 64 in flight, and 16 connections x 16;
 *   (b) chat fan-out: messages per second delivered to 200 members of one room, next to a raw Node TCP
 *       broadcast server (the ceiling) driven by the same load generator.
 * Servers run in a child process (servers.js), so the load generator has its own core.
 */
import net from 'node:net';
import { NexoClient } from '../src/client/client.js';
import type { SocketFactory } from '../src/client/socket.js';
import { tcpSocketFactory } from '../src/client/tcp.js';
import { nodeWebSocketFactory } from '../src/client/ws-node.js';
import { FrameType, HEADER_SIZE, PREFACE } from '../src/protocol/constants.js';
import { encodeFrame } from '../src/protocol/encoder.js';
import { packValue } from '../src/protocol/payload.js';
import { clientLoop, fmt, type LoadResult, spawnBenchServer, table } from './harness.js';
import { SHAPES } from './protocol.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_MS = 700;
const PAYLOAD = 'hello, nexo bench';
const MEMBERS = 200;
/** Messages the talker keeps in flight (sent and not yet acknowledged). */
const TALKER_IN_FLIGHT = 16;
const CHAT_TEXT = 'x'.repeat(100);

/** `inFlight` concurrent echo loops per connection, through the client library and `factory`. */
async function echoLoad(
  endpoint: string,
  factory: SocketFactory,
  shape: { connections: number; inFlight: number },
): Promise<LoadResult> {
  const clients = await Promise.all(
    Array.from({ length: shape.connections }, async () => {
      const client = new NexoClient({ endpoints: [endpoint], socketFactory: factory, reconnect: false });
      return client.connect();
    }),
  );
  return clientLoop(clients, shape.inFlight, (c) => c.echo.echo(PAYLOAD), {
    warmupMs: WARMUP_MS,
    seconds: SECONDS,
  });
}

function connectRaw(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Counts whole frames of a byte stream, calling `onFrame(type, id)` for each (header-only parsing). */
function frameCounter(headerSize: number, onFrame: (type: number, id: number) => void, skip = 0) {
  let pending: Buffer = Buffer.alloc(0);
  let toSkip = skip;
  return (chunk: Buffer) => {
    let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (toSkip > 0) {
      const n = Math.min(toSkip, data.length);
      data = data.subarray(n);
      toSkip -= n;
    }
    let offset = 0;
    while (data.length - offset >= headerSize) {
      const length = data.readUInt32BE(offset);
      if (data.length - offset - headerSize < length) break;
      onFrame(headerSize === 4 ? 0 : data[offset + 4]!, headerSize === 4 ? 0 : data.readUInt32BE(offset + 6));
      offset += headerSize + length;
    }
    pending = data.subarray(offset);
  };
}

interface FanoutResult {
  /** Messages delivered per second, all members together. */
  deliveries: number;
  /** Messages sent per second by the talker. */
  messages: number;
}

/** Measures over the window: `count()` deliveries and `sent()` messages. */
async function measure(count: () => number, sent: () => number, stop: () => void): Promise<FanoutResult> {
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const d0 = count();
  const s0 = sent();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const result = { deliveries: (count() - d0) / elapsed, messages: (sent() - s0) / elapsed };
  stop();
  return result;
}

/** 200 nexo members in one room (lean raw sockets counting EVENT frames), one talker pipelining chat.say. */
async function nexoFanout(port: number): Promise<FanoutResult> {
  let deliveries = 0;
  let joined = 0;
  let sent = 0;
  let talking = false;
  let stop = false;
  const hello = Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }))]);
  const members = await Promise.all(Array.from({ length: MEMBERS }, () => connectRaw(port)));
  // Member 0 also talks (one must be in the room to speak): the reply to each say frees a slot for the next.
  const talker = members[0]!;
  const say = packValue(['chat', 'say', { room: 'bench', text: CHAT_TEXT }]);
  let nextId = 2;
  const sendOne = () => {
    const id = nextId;
    nextId = nextId >= 0xfffffff ? 2 : nextId + 1;
    talker.write(encodeFrame(FrameType.REQUEST, 0, id, say));
    sent++;
  };
  members.forEach((socket, i) => {
    // Every EVENT on the join's id (1) counts; the first one, `joined`, says the member is in.
    let first = true;
    socket.on(
      'data',
      frameCounter(
        HEADER_SIZE,
        (type, id) => {
          if (id === 1 && type === FrameType.EVENT) {
            if (first) {
              first = false;
              joined++;
            } else deliveries++;
          } else if (socket === talker && id > 1 && talking && !stop) sendOne();
        },
        PREFACE.length,
      ),
    );
    socket.write(
      Buffer.concat([
        hello,
        encodeFrame(
          FrameType.REQUEST,
          0,
          1,
          packValue(['chat', 'join', { room: 'bench', nick: `m${i}`, history: 0 }]),
        ),
      ]),
    );
  });
  while (joined < MEMBERS) await new Promise((r) => setTimeout(r, 20));
  // Join notices of later members reached earlier ones: they are not messages.
  await new Promise((r) => setTimeout(r, 200));
  deliveries = 0;
  talking = true;
  for (let i = 0; i < TALKER_IN_FLIGHT; i++) sendOne();
  return measure(
    () => deliveries,
    () => sent,
    () => {
      stop = true;
      for (const s of members) s.destroy();
    },
  );
}

/** The same shape against the raw broadcast server: the talker's own echo frees its slot. */
async function rawFanout(port: number): Promise<FanoutResult> {
  let deliveries = 0;
  const members = await Promise.all(Array.from({ length: MEMBERS }, () => connectRaw(port)));
  const body = Buffer.from(CHAT_TEXT);
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  let sent = 0;
  let stop = false;
  const talker = members[0]!;
  members.forEach((socket) => {
    socket.on(
      'data',
      frameCounter(4, () => {
        deliveries++;
        if (socket === talker && !stop) {
          talker.write(frame);
          sent++;
        }
      }),
    );
  });
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < TALKER_IN_FLIGHT; i++) {
    talker.write(frame);
    sent++;
  }
  return measure(
    () => deliveries,
    () => sent,
    () => {
      stop = true;
      for (const s of members) s.destroy();
    },
  );
}

export interface WebRow {
  shape: string;
  tcp: LoadResult;
  ws: LoadResult;
}

export async function benchWeb(): Promise<{ rows: WebRow[]; text: string }> {
  const nexo = await spawnBenchServer('servers.js', ['nexo-web']);
  const rows: WebRow[] = [];
  let chat: FanoutResult;
  let raw: FanoutResult;
  try {
    for (const shape of SHAPES) {
      rows.push({
        shape: shape.name,
        tcp: await echoLoad(`127.0.0.1:${nexo.port}`, tcpSocketFactory, shape),
        ws: await echoLoad(`127.0.0.1:${nexo.httpPort}`, nodeWebSocketFactory(), shape),
      });
    }
    chat = await nexoFanout(nexo.port);
  } finally {
    await nexo.stop();
  }
  const ceiling = await spawnBenchServer('servers.js', ['raw-fanout']);
  try {
    raw = await rawFanout(ceiling.port);
  } finally {
    await ceiling.stop();
  }
  const echo = table(
    ['echo, client library', 'TCP rt/s', 'p50', 'p99', 'WebSocket rt/s', 'p50', 'p99', 'ws/tcp'],
    rows.map((r) => [r.shape, ...fmt.load(r.tcp), ...fmt.load(r.ws), fmt.pct(r.ws.rate / r.tcp.rate)]),
  );
  const fanout = table(
    [`chat fan-out, ${MEMBERS} members`, 'messages/s', 'deliveries/s', 'vs raw broadcast'],
    [
      [
        'nexo chat.say → EVENT',
        fmt.rate(chat.messages),
        fmt.rate(chat.deliveries),
        fmt.pct(chat.deliveries / raw.deliveries),
      ],
      ['raw TCP broadcast (ceiling)', fmt.rate(raw.messages), fmt.rate(raw.deliveries), '100%'],
    ],
  );
  return { rows, text: `${echo}\n\n${fanout}` };
}
