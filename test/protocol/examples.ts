import { Flags, FrameType, PREFACE } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';

/**
 * The example session of docs/protocol.md §10, as exact bytes. The doc's hex dumps are generated from this
 * list and a test checks that they still match the encoder.
 */
export interface ExampleStep {
  dir: 'C→S' | 'S→C';
  note: string;
  bytes: Uint8Array;
}

const frame = (type: number, flags: number, id: number, value: unknown) =>
  encodeFrame(type, flags, id, value instanceof Uint8Array ? value : packValue(value));

export const EXAMPLE_SESSION: ExampleStep[] = [
  { dir: 'C→S', note: 'preface', bytes: PREFACE },
  {
    dir: 'C→S',
    note: 'HELLO {versions:[1], client:"demo"}',
    bytes: frame(FrameType.HELLO, 0, 0, { versions: [1], client: 'demo' }),
  },
  { dir: 'S→C', note: 'preface', bytes: PREFACE },
  {
    dir: 'S→C',
    note: 'WELCOME {version:1, node:"n1", server:"nexo/0.1.0", role:"anonymous", limits:{…}, services:{calc:["eval"]}}',
    bytes: frame(FrameType.WELCOME, 0, 0, {
      version: 1,
      node: 'n1',
      server: 'nexo/0.1.0',
      role: 'anonymous',
      limits: { maxFrame: 1048576, maxInFlight: 256, heartbeatMs: 30000, idleTimeoutMs: 300000 },
      services: { calc: ['eval'] },
    }),
  },
  {
    dir: 'C→S',
    note: 'REQUEST id=1 ["calc","eval",{expr:"2*(3+4)"}]',
    bytes: frame(FrameType.REQUEST, 0, 1, ['calc', 'eval', { expr: '2*(3+4)' }]),
  },
  {
    dir: 'C→S',
    note: 'REQUEST id=2 ["greet","hello",{names:["Ana"]}]',
    bytes: frame(FrameType.REQUEST, 0, 2, ['greet', 'hello', { names: ['Ana'] }]),
  },
  {
    dir: 'S→C',
    note: 'RESPONSE id=2 {lang:"es", node:"n1", greetings:["¡Hola, Ana!"]} (replies may come in any order)',
    bytes: frame(FrameType.RESPONSE, 0, 2, { lang: 'es', node: 'n1', greetings: ['¡Hola, Ana!'] }),
  },
  { dir: 'S→C', note: 'RESPONSE id=1 {value:"14"}', bytes: frame(FrameType.RESPONSE, 0, 1, { value: '14' }) },
  {
    dir: 'C→S',
    note: 'REQUEST id=3 ["calc","eval",{expr:"1/0"}]',
    bytes: frame(FrameType.REQUEST, 0, 3, ['calc', 'eval', { expr: '1/0' }]),
  },
  {
    dir: 'S→C',
    note: 'ERROR id=3 {code:"CALC_DIVISION_BY_ZERO", message:"division by zero at column 2"}',
    bytes: frame(FrameType.ERROR, 0, 3, {
      code: 'CALC_DIVISION_BY_ZERO',
      message: 'division by zero at column 2',
    }),
  },
  {
    dir: 'C→S',
    note: 'REQUEST id=4 ["echo","stream",nil] (a call with an upload stream)',
    bytes: frame(FrameType.REQUEST, 0, 4, ['echo', 'stream', null]),
  },
  {
    dir: 'C→S',
    note: 'CHUNK id=4 "abc" (raw bytes, not MessagePack)',
    bytes: encodeFrame(FrameType.CHUNK, 0, 4, new TextEncoder().encode('abc')),
  },
  {
    dir: 'C→S',
    note: 'CHUNK id=4 flags=END, empty: the upload is complete',
    bytes: encodeFrame(FrameType.CHUNK, Flags.END, 4),
  },
  {
    dir: 'S→C',
    note: 'CHUNK id=4 "abc"',
    bytes: encodeFrame(FrameType.CHUNK, 0, 4, new TextEncoder().encode('abc')),
  },
  { dir: 'S→C', note: 'CHUNK id=4 flags=END', bytes: encodeFrame(FrameType.CHUNK, Flags.END, 4) },
  {
    dir: 'S→C',
    note: 'RESPONSE id=4 {bytes:3, chunks:1}',
    bytes: frame(FrameType.RESPONSE, 0, 4, { bytes: 3, chunks: 1 }),
  },
  {
    dir: 'C→S',
    note: 'PING payload 00000001',
    bytes: encodeFrame(FrameType.PING, 0, 0, Uint8Array.of(0, 0, 0, 1)),
  },
  {
    dir: 'S→C',
    note: 'PONG with the same payload',
    bytes: encodeFrame(FrameType.PONG, 0, 0, Uint8Array.of(0, 0, 0, 1)),
  },
  {
    dir: 'S→C',
    note: 'GOAWAY {code:"SHUTTING_DOWN", message:"the node is shutting down"}',
    bytes: frame(FrameType.GOAWAY, 0, 0, { code: 'SHUTTING_DOWN', message: 'the node is shutting down' }),
  },
];

/** The dump as it appears in the doc: 16 bytes per line, direction and note above each message. */
/** `node.members` asked and answered (docs/protocol.md §9, node), as exact bytes; a test checks the doc's dump. */
export const MEMBERS_EXAMPLE: ExampleStep[] = [
  {
    dir: 'C→S',
    note: 'REQUEST id=7 ["node","members",nil]',
    bytes: frame(FrameType.REQUEST, 0, 7, ['node', 'members', null]),
  },
  {
    dir: 'S→C',
    note: 'RESPONSE id=7 {cluster:"lab", self:"n1", members:[{format:1, id:"n2", cluster:"lab", version:"0.1.0", host:"10.0.0.2", ports:{tcp:7070, http:8080}, pid:812, startedAt:…, uptimeS:60, state:"ready", load:{connections:3, requestsPerSec:12.5, eventLoopDelayMs:0}, updatedAt:…}]} (one member shown; n1 is in the list too)',
    bytes: frame(FrameType.RESPONSE, 0, 7, {
      cluster: 'lab',
      self: 'n1',
      members: [
        {
          format: 1,
          id: 'n2',
          cluster: 'lab',
          version: '0.1.0',
          host: '10.0.0.2',
          ports: { tcp: 7070, http: 8080 },
          pid: 812,
          startedAt: 1_796_000_000_000,
          uptimeS: 60,
          state: 'ready',
          load: { connections: 3, requestsPerSec: 12.5, eventLoopDelayMs: 0 },
          updatedAt: 1_796_000_060_000,
        },
      ],
    }),
  },
];

export function renderExample(steps: ExampleStep[] = EXAMPLE_SESSION): string {
  const out: string[] = [];
  for (const step of steps) {
    out.push(`${step.dir}  ${step.note}`);
    const hex = Buffer.from(step.bytes).toString('hex').match(/../g) ?? [];
    for (let i = 0; i < hex.length; i += 16) out.push(`     ${hex.slice(i, i + 16).join(' ')}`);
  }
  return out.join('\n');
}
