import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { Frame } from '../../src/protocol/frame.js';
import { packValue, unpackValue } from '../../src/protocol/payload.js';
import { builtinServices } from '../../src/services/index.js';
import { startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { slowService } from '../helpers/slow-service.js';

let node: NexoNode & { port: number };
beforeAll(async () => {
  node = await startNode();
});
afterAll(() => node.close({ timeoutMs: 2000 }));

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Sends `bytes`, reads until the node closes, returns everything it sent. */
function exchange(bytes: Buffer, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: node.port, host: '127.0.0.1' }, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the node did not close the connection'));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

function frames(bytes: Buffer): Frame[] {
  const decoder = new FrameDecoder({
    maxPayload: 1 << 20,
    preface: bytes.subarray(0, 4).equals(Buffer.from(PREFACE)),
  });
  decoder.push(bytes);
  const out: Frame[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f as Frame);
  return out;
}

describe('spec rules a client had to guess (issue #12 part 6), over a real socket', () => {
  it('§4.4.5 an oversize HELLO gets ERROR id 0 FRAME_TOO_LARGE {limit: 65536, length} and the close', async () => {
    const out = await exchange(
      Buffer.concat([Buffer.from(PREFACE), hex('00 01 00 01 | 01 | 00 | 00 00 00 00'.replace(/\|/g, ''))]),
    );
    const [error, ...rest] = frames(out);
    expect(rest).toEqual([]);
    expect([error!.type, error!.id]).toEqual([FrameType.ERROR, 0]);
    expect(unpackValue(error!.payload)).toMatchObject({
      code: 'FRAME_TOO_LARGE',
      details: { limit: 65536, length: 65537 },
    });
  });

  it('§5.1.7 malformed HELLOs are a fatal PROTOCOL_ERROR; unknown versions UNSUPPORTED_VERSION', async () => {
    const cases: [string, Uint8Array, string][] = [
      ['versions empty', hex('81 a8 76657273696f6e73 90'), 'PROTOCOL_ERROR'],
      ['not a map', packValue([1]), 'PROTOCOL_ERROR'],
      ['no versions', packValue({ client: 'x' }), 'PROTOCOL_ERROR'],
      ['versions not integers', packValue({ versions: ['1'] }), 'PROTOCOL_ERROR'],
      ['version 0', packValue({ versions: [0] }), 'PROTOCOL_ERROR'],
      ['33 versions', packValue({ versions: Array.from({ length: 33 }, () => 1) }), 'PROTOCOL_ERROR'],
      ['client not a string', packValue({ versions: [1], client: 7 }), 'PROTOCOL_ERROR'],
      ['token too long', packValue({ versions: [1], token: 'x'.repeat(4097) }), 'PROTOCOL_ERROR'],
      ['not MessagePack', hex('c1'), 'PROTOCOL_ERROR'],
      ['two values', hex('80 80'), 'PROTOCOL_ERROR'],
      ['unknown version', packValue({ versions: [9] }), 'UNSUPPORTED_VERSION'],
    ];
    for (const [what, payload, code] of cases) {
      const out = await exchange(
        Buffer.concat([Buffer.from(PREFACE), encodeFrame(FrameType.HELLO, 0, 0, payload)]),
      );
      const got = frames(out);
      expect(
        got.map((f) => [f.type, f.id]),
        what,
      ).toEqual([[FrameType.ERROR, 0]]);
      expect(unpackValue(got[0]!.payload), what).toMatchObject({ code });
    }
  });

  it('§7.3.6 a GOAWAY with any code, or none, ends the connection the same way', async () => {
    for (const payload of [
      packValue({ code: 'SHUTTING_DOWN', message: 'client closing' }),
      packValue({ code: 'WHATEVER' }),
      new Uint8Array(0),
      hex('c1'),
    ]) {
      const peer = await RawPeer.open(node.port);
      const id = peer.request('echo', 'echo', 'before');
      peer.send(FrameType.GOAWAY, 0, 0, payload);
      const reply = await peer.reply(id);
      expect(reply.value).toBe('before');
      await peer.closedByServer(3000);
    }
  });

  it('§7.3.7 a REQUEST after the server GOAWAY gets ERROR GOING_AWAY while a request keeps the connection open', async () => {
    const draining = await startNode({}, { services: [...builtinServices(), slowService] });
    const peer = await RawPeer.open(draining.port);
    try {
      const slow = peer.request('slow', 'sleep', { ms: 800 });
      await new Promise((r) => setTimeout(r, 100));
      const closed = draining.close({ timeoutMs: 5000 });
      let goAway: Frame | undefined;
      while (goAway === undefined) {
        const f = (await peer.next()) as Frame;
        if (f.type === FrameType.GOAWAY) goAway = f;
      }
      const late = peer.request('echo', 'echo', 'late');
      const reply = await peer.reply(late);
      expect(reply.type).toBe(FrameType.ERROR);
      expect(reply.value).toMatchObject({ code: 'GOING_AWAY' });
      // The request that was open when GOAWAY came still finishes (§7.3.1).
      expect((await peer.reply(slow)).value).toEqual({ slept: 800 });
      await closed;
    } finally {
      peer.close();
    }
  });
});

describe('§4.2.2 and §4.5.6 over a real socket', () => {
  it('§4.2.2 a PING (or PONG, GOAWAY, HELLO) with a non-zero id is a fatal PROTOCOL_ERROR, no PONG', async () => {
    const preface = Buffer.from(PREFACE);
    const hello = encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }));
    // The spec's bytes: PING id 5, no payload.
    const ping = hex('00 00 00 00 | 03 | 00 | 00 00 00 05'.replace(/\|/g, ''));
    const got = frames(await exchange(Buffer.concat([preface, hello, ping])));
    expect(got.map((f) => [f.type, f.id])).toEqual([
      [FrameType.WELCOME, 0],
      [FrameType.ERROR, 0],
    ]);
    expect(unpackValue(got[1]!.payload)).toMatchObject({
      code: 'PROTOCOL_ERROR',
      message: expect.stringMatching(/PING .*id 0/),
    });
    for (const [type, payload] of [
      [FrameType.PONG, new Uint8Array(4)],
      [FrameType.GOAWAY, packValue({ code: 'SHUTTING_DOWN', message: 'bye' })],
      [FrameType.PING, new Uint8Array(4)],
    ] as const) {
      const out = frames(await exchange(Buffer.concat([preface, hello, encodeFrame(type, 0, 1, payload)])));
      expect(out.map((f) => f.type)).toEqual([FrameType.WELCOME, FrameType.ERROR]);
      expect(unpackValue(out[1]!.payload)).toMatchObject({ code: 'PROTOCOL_ERROR' });
    }
    const badHello = frames(
      await exchange(
        Buffer.concat([preface, encodeFrame(FrameType.HELLO, 0, 3, packValue({ versions: [1] }))]),
      ),
    );
    expect(badHello.map((f) => [f.type, f.id])).toEqual([[FrameType.ERROR, 0]]);
    // Id 0 is answered as always.
    const peer = await RawPeer.open(node.port);
    peer.send(FrameType.PING, 0, 0, hex('00000001'));
    const pong = await peer.next();
    expect([pong.type, pong.id, Buffer.from(pong.payload).toString('hex')]).toEqual([
      FrameType.PONG,
      0,
      '00000001',
    ]);
    peer.close();
  });

  it('§4.5.6 a str that is not UTF-8 is BAD_REQUEST on its id and the connection goes on', async () => {
    const peer = await RawPeer.open(node.port);
    try {
      // The spec's bytes: REQUEST id 1 ["echo","echo","\xff"].
      peer.write(
        hex('00 00 00 0d 10 00 00 00 00 01 | 93 a4 65 63 68 6f a4 65 63 68 6f a1 ff'.replace(/\|/g, '')),
      );
      const first = await peer.reply(1);
      expect([first.type, first.value]).toEqual([
        FrameType.ERROR,
        { code: 'BAD_REQUEST', message: expect.stringMatching(/UTF-8/) },
      ]);
      const echo = (id: number, body: Buffer) => {
        const frame = Buffer.concat([hex('93 a4 6563686f a4 6563686f'.replace(/ /g, '')), body]);
        peer.send(FrameType.REQUEST, 0, id, frame);
      };
      const str8 = (bytes: Buffer) => Buffer.concat([Buffer.of(0xd9, bytes.length), bytes]);
      const bad: [string, Buffer][] = [
        ['lone surrogate (CESU)', hex('a3 eda080'.replace(/ /g, ''))],
        ['overlong slash', hex('a2 c0af'.replace(/ /g, ''))],
        ['truncated sequence', hex('a2 61e2'.replace(/ /g, ''))],
        ['above U+10FFFF', hex('a4 f4908080'.replace(/ /g, ''))],
        ['in a map key', hex('81 a1ff 01'.replace(/ /g, ''))],
        [
          'deep in a str8',
          hex(
            `91 81 a1 6b ${str8(Buffer.concat([Buffer.alloc(40, 0x61), Buffer.of(0x80)])).toString('hex')}`.replace(
              / /g,
              '',
            ),
          ),
        ],
      ];
      let id = 2;
      for (const [what, body] of bad) {
        echo(id, body);
        const reply = await peer.reply(id++);
        expect(reply.value, what).toMatchObject({ code: 'BAD_REQUEST' });
      }
      // Valid text, U+FFFD itself and any bytes in a bin pass unchanged.
      const good: [Buffer, unknown][] = [
        [hex('a3 efbfbd'.replace(/ /g, '')), '\uFFFD'],
        [hex('a7 6f6cc3a9e282ac'.replace(/ /g, '')), 'olé€'],
        [hex('a4 f09f9880'.replace(/ /g, '')), '😀'],
        [hex('c4 02 ff80'.replace(/ /g, '')), new Uint8Array([0xff, 0x80])],
      ];
      for (const [body, value] of good) {
        echo(id, body);
        const reply = await peer.reply(id++);
        expect(reply.type, JSON.stringify(reply.value)).toBe(FrameType.RESPONSE);
        expect(reply.value instanceof Uint8Array ? new Uint8Array(reply.value) : reply.value).toEqual(value);
      }
    } finally {
      peer.close();
    }
  });

  it('§4.5.2 the byte c1, which MessagePack never uses, is BAD_REQUEST (echo.echo returned it before)', async () => {
    const peer = await RawPeer.open(node.port);
    try {
      for (const [id, args] of [
        [1, 'c1'],
        [2, '92 01 c1'],
        [3, '81 a1 6b c1'],
      ] as const) {
        peer.send(FrameType.REQUEST, 0, id, hex(`93 a4 6563686f a4 6563686f ${args}`.replace(/ /g, '')));
        const reply = await peer.reply(id);
        expect([reply.type, reply.value]).toEqual([
          FrameType.ERROR,
          { code: 'BAD_REQUEST', message: expect.stringMatching(/c1/) },
        ]);
      }
    } finally {
      peer.close();
    }
  });

  it('§4.5.6 a HELLO with a str that is not UTF-8 is a fatal PROTOCOL_ERROR', async () => {
    const payload = hex('82 a8 76657273696f6e73 91 01 a6 636c69656e74 a1 fe'.replace(/ /g, ''));
    const got = frames(
      await exchange(Buffer.concat([Buffer.from(PREFACE), encodeFrame(FrameType.HELLO, 0, 0, payload)])),
    );
    expect(got.map((f) => [f.type, f.id])).toEqual([[FrameType.ERROR, 0]]);
    expect(unpackValue(got[0]!.payload)).toMatchObject({ code: 'PROTOCOL_ERROR' });
  });
});
