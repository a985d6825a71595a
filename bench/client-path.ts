/**
 * Diagnostic: the client library's own cost per request, without sockets (the client side of
 * bench/server-path.ts). A real NexoClient runs over an in-memory ClientSocket whose other end is a stub
 * node: it answers the handshake, and for every REQUEST frame written it copies a pre-encoded RESPONSE with
 * that request's id, delivering the replies to one write in one read on a later turn (as a socket does). 64
 * calls are kept in flight as a user's loops would (`await client.echo.echo(...)`), and every result is
 * checked. Beside it, the ceiling in the same run: the bare framing (requests written from pre-encoded
 * payloads with writeHeader, replies decoded by the FrameDecoder and compared byte for byte, no promises),
 * against the same stub node, so the difference is what the library adds. Figures are CPU µs per request
 * (see in-process.ts).
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/client-path.js [echo|calc|bare] [--count N]
 */
import { NexoClient } from '../src/client/client.js';
import type { ClientSocket } from '../src/client/socket.js';
import { FrameType, HEADER_SIZE, PREFACE } from '../src/protocol/constants.js';
import { FrameDecoder } from '../src/protocol/decoder.js';
import { encodeFrame, writeHeader } from '../src/protocol/encoder.js';
import { packValue } from '../src/protocol/payload.js';
import { table } from './harness.js';
import { measureOpened, type Path, type PathResult, pathMain } from './in-process.js';
import { measureServerPath, PATH_CASES } from './server-path.js';

const IN_FLIGHT = 64;

const WELCOME = encodeFrame(
  FrameType.WELCOME,
  0,
  0,
  packValue({
    version: 1,
    node: 'client-path',
    server: 'stub',
    role: 'admin',
    limits: { maxFrame: 1 << 20, maxInFlight: 256, heartbeatMs: 0, idleTimeoutMs: 0 },
    services: { echo: ['echo'], calc: ['eval'] },
  }),
);

/**
 * The stub node: every REQUEST frame written gets `reply` (a RESPONSE payload) with its id. Writes are
 * whole frames (FrameBatch never splits one), the preface and HELLO come first.
 */
class StubSocket implements ClientSocket {
  onData: (bytes: Uint8Array) => void = () => {};
  onDrain: () => void = () => {};
  onClose: (error?: Error) => void = () => {};
  requests = 0;
  #greeted = false;
  #out: Buffer[] = [];
  #scheduled = false;
  readonly #reply: Uint8Array;

  constructor(reply: Uint8Array) {
    this.#reply = reply;
  }

  write(bytes: Uint8Array): boolean {
    let p = 0;
    if (!this.#greeted) {
      this.#greeted = true;
      p = PREFACE.length;
      this.#out.push(Buffer.concat([PREFACE, WELCOME]));
    }
    const reply = this.#reply;
    const size = HEADER_SIZE + reply.length;
    let count = 0;
    for (let q = p; q < bytes.length; q += HEADER_SIZE + readLength(bytes, q)) {
      if (bytes[q + 4] === FrameType.REQUEST) count++;
    }
    if (count > 0) {
      const out = Buffer.allocUnsafe(count * size);
      let at = 0;
      for (let q = p; q < bytes.length; q += HEADER_SIZE + readLength(bytes, q)) {
        if (bytes[q + 4] !== FrameType.REQUEST) continue;
        const id =
          ((bytes[q + 6]! << 24) | (bytes[q + 7]! << 16) | (bytes[q + 8]! << 8) | bytes[q + 9]!) >>> 0;
        writeHeader(out, at, FrameType.RESPONSE, 0, id, reply.length);
        out.set(reply, at + HEADER_SIZE);
        at += size;
      }
      this.requests += count;
      this.#out.push(out);
    }
    if (!this.#scheduled && this.#out.length > 0) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        const parts = this.#out;
        this.#out = [];
        this.onData(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      });
    }
    return true;
  }

  end(): void {
    setImmediate(() => this.onClose());
  }

  destroy(): void {
    setImmediate(() => this.onClose());
  }
}

function readLength(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** The client library: IN_FLIGHT loops of calls, each result checked. */
async function libraryPath(name: string): Promise<Path> {
  const test = PATH_CASES[name];
  if (test === undefined) throw new Error(`unknown case ${name}`);
  const socket = new StubSocket(packValue(test.reply));
  const client = new NexoClient({
    endpoints: ['127.0.0.1:1'],
    socketFactory: async () => socket,
    reconnect: false,
  });
  await client.connect();
  const call =
    name === 'echo'
      ? async () => {
          if ((await client.echo.echo(test.request[2])) !== test.reply) throw new Error('wrong echo reply');
        }
      : async () => {
          const r = await client.calc.eval((test.request[2] as { expr: string }).expr);
          if (r.value !== (test.reply as { value: string }).value) throw new Error('wrong calc reply');
        };
  return {
    async run(batches) {
      const want = socket.requests + batches * IN_FLIGHT;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          for (let i = 0; i < batches; i++) await call();
        }),
      );
      if (socket.requests !== want) throw new Error(`${want} requests expected, ${socket.requests} sent`);
    },
    close: () => client.close(),
  };
}

/**
 * The ceiling: the same requests and replies with nothing but framing — a batch of IN_FLIGHT pre-encoded
 * REQUESTs (ids written into the headers), the replies decoded and compared with the expected bytes.
 */
async function barePath(): Promise<Path> {
  const test = PATH_CASES.echo!;
  const reply = packValue(test.reply);
  const socket = new StubSocket(reply);
  const decoder = new FrameDecoder({ maxPayload: 1 << 20, preface: true });
  const payload = packValue(test.request);
  const frameSize = HEADER_SIZE + payload.length;
  let nextId = 1;
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  socket.onData = (bytes) => {
    decoder.push(bytes);
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
      if (f.type === FrameType.WELCOME) continue;
      if (
        f.payload === null ||
        f.type !== FrameType.RESPONSE ||
        !sameBytes(f.source, f.offset, f.length, reply)
      )
        failure ??= new Error(`unexpected reply to ${f.id}`);
    }
    wake?.();
  };
  const send = () => {
    const out = Buffer.allocUnsafe(IN_FLIGHT * frameSize);
    for (let i = 0; i < IN_FLIGHT; i++) {
      writeHeader(out, i * frameSize, FrameType.REQUEST, 0, nextId++, payload.length);
      out.set(payload, i * frameSize + HEADER_SIZE);
    }
    socket.write(out);
  };
  socket.write(Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }))]));
  await new Promise((r) => setTimeout(r, 10));
  return {
    async run(batches) {
      for (let k = 0; k < batches; k++) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          send();
        });
      }
      if (failure) throw failure;
    },
    close: async () => {},
  };
}

function sameBytes(source: Uint8Array, offset: number, length: number, want: Uint8Array): boolean {
  if (length !== want.length) return false;
  for (let i = 0; i < length; i++) if (source[offset + i] !== want[i]) return false;
  return true;
}

const pathOf = (name: string) => (name === 'bare' ? barePath() : libraryPath(name));

/** CPU µs per request on the client's side for one case (`bare`: the framing ceiling). */
export async function measureClientPath(name: string): Promise<PathResult> {
  return measureOpened(await pathOf(name), IN_FLIGHT);
}

/**
 * `npm run bench -- client-path`: the library's CPU per request next to its ceiling (the bare framing) in
 * the same run, and the node's (server-path.ts) beside it.
 */
export async function benchClientPath(): Promise<{ text: string }> {
  const bare = await measureClientPath('bare');
  const rows: string[][] = [];
  for (const name of ['echo', 'calc']) {
    const client = await measureClientPath(name);
    const node = await measureServerPath(name);
    rows.push([
      name,
      client.cpu.toFixed(3),
      bare.cpu.toFixed(3),
      `${((bare.cpu / client.cpu) * 100).toFixed(0)}%`,
      node.cpu.toFixed(3),
    ]);
  }
  return {
    text: `CPU µs per request in process, ${IN_FLIGHT} in flight, median of 7 runs of ${10_000 * IN_FLIGHT}\n${table(
      ['case', 'client library', 'bare framing (ceiling)', 'ceiling/library', 'node (server-path)'],
      rows,
    )}`,
  };
}

await pathMain(import.meta.url, 'client', ['echo', 'calc', 'bare'], pathOf, IN_FLIGHT);
