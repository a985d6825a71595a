import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../bench/udp-relay.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { FrameCutter } from '../../src/transport/udp/cutter.js';
import { acceptHandshake, ClientHandshake } from '../../src/transport/udp/handshake.js';
import { keyFromToken } from '../../src/transport/udp/keys.js';
import { RecordLayer } from '../../src/transport/udp/record.js';
import { CHANNEL_DEFAULTS, type ChannelOptions, ReliableChannel } from '../../src/transport/udp/reliable.js';
import { REPLAY_WINDOW, ReplayWindow } from '../../src/transport/udp/replay-window.js';
import { MAX_MESSAGE, RECORD_HEADER, TAG_SIZE } from '../../src/transport/udp/wire.js';

function pair(): { a: RecordLayer; b: RecordLayer } {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  return { a: new RecordLayer(7, k1, k2), b: new RecordLayer(7, k2, k1) };
}

describe('record layer (spec §13.3.5)', () => {
  it('opens what the other side sealed, with the header as associated data', () => {
    const { a, b } = pair();
    const sealed = a.seal(Buffer.from('hello'));
    expect(sealed.length).toBe(RECORD_HEADER + 5 + TAG_SIZE);
    expect([...sealed.subarray(0, 6)]).toEqual([0x8e, 0x04, 0, 0, 0, 7]);
    expect(Buffer.from(b.open(sealed)!).toString()).toBe('hello');
    expect(b.stats).toEqual({ rejected: 0, replayed: 0 });
  });

  it('rejects a record sealed under another key, and counts it', () => {
    const { a } = pair();
    const stranger = new RecordLayer(7, randomBytes(32), randomBytes(32));
    expect(stranger.open(a.seal(Buffer.from('x')))).toBeUndefined();
    expect(stranger.stats.rejected).toBe(1);
  });

  it('rejects every single-byte change of header, ciphertext or tag', () => {
    const { a, b } = pair();
    const sealed = a.seal(Buffer.from('tamper me'));
    for (let i = 0; i < sealed.length; i++) {
      const copy = Buffer.from(sealed);
      copy[i]! ^= 0x01;
      expect(b.open(copy), `byte ${i}`).toBeUndefined();
    }
    // Flipping the packet number's bytes may also look like a replay; either way it is counted, not opened.
    expect(b.stats.rejected + b.stats.replayed).toBe(sealed.length);
    expect(b.open(sealed)).toBeDefined(); // the real one still opens
  });

  it('drops a replayed record and counts it; accepts reordering within the window', () => {
    const { a, b } = pair();
    const records = Array.from({ length: 10 }, (_, i) => a.seal(Buffer.from([i])));
    for (const i of [3, 1, 0, 2, 9, 4, 5, 8, 6, 7]) expect(b.open(records[i]!)![0]).toBe(i);
    expect(b.open(records[4]!)).toBeUndefined();
    expect(b.open(records[9]!)).toBeUndefined();
    expect(b.stats.replayed).toBe(2);
  });

  it('drops records older than the window', () => {
    const { a, b } = pair();
    const first = a.seal(Buffer.from('old'));
    for (let i = 0; i < REPLAY_WINDOW + 1; i++) b.open(a.seal(Buffer.from('new')));
    expect(b.open(first)).toBeUndefined();
    expect(b.stats.replayed).toBe(1);
  });

  it('rejects short, oversized and garbage records without throwing', () => {
    const { b } = pair();
    for (const junk of [Buffer.alloc(0), Buffer.alloc(29), Buffer.alloc(1201), randomBytes(100)]) {
      expect(b.open(junk)).toBeUndefined();
    }
  });

  it('replay window: any order of distinct numbers is accepted once each (fast-check)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 200 }), (numbers) => {
        const window = new ReplayWindow();
        let highest = -1;
        for (const n of numbers) {
          const expected = n > highest || highest - n < REPLAY_WINDOW;
          expect(window.fresh(n)).toBe(expected);
          if (expected) window.mark(n);
          highest = Math.max(highest, n);
          expect(window.fresh(n)).toBe(false);
        }
      }),
    );
  });
});

describe('handshake (spec §13.3.4)', () => {
  it('gives both sides matching keys under the same token', () => {
    const client = new ClientHandshake(keyFromToken('sensor-token-1'));
    const hello = client.hello();
    const noise = hello.subarray(4 + 8, 4 + 8 + 48);
    const node = acceptHandshake(keyFromToken('sensor-token-1'), noise, 42);
    const welcome = Buffer.concat([Buffer.from([0x8e, 0x03, 0, 0, 0, 42]), node.message2]);
    const record = client.welcome(welcome);
    expect(Buffer.from(node.record.open(record.seal(Buffer.from('up')))!).toString()).toBe('up');
    expect(Buffer.from(record.open(node.record.seal(Buffer.from('down')))!).toString()).toBe('down');
  });

  it('fails under a wrong key', () => {
    const client = new ClientHandshake(keyFromToken('sensor-token-1'));
    const noise = client.hello().subarray(12, 60);
    expect(() => acceptHandshake(keyFromToken('another-token'), noise, 1)).toThrow();
  });
});

describe('frame cutter (spec §13.3.6)', () => {
  it('cuts a stream into the preface and one frame per message, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        (sizes, cuts) => {
          const frames = sizes.map((n, i) => encodeFrame(0x10, 0, i + 1, new Uint8Array(n).fill(i)));
          const stream = Buffer.concat([Buffer.from([0x8e, 0x4e, 0x58, 0x4f]), ...frames]);
          const cutter = new FrameCutter(MAX_MESSAGE);
          const out: Uint8Array[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            out.push(...cutter.push(stream.subarray(at, at + n)));
            at += n;
          }
          expect(cutter.flush()).toEqual([]);
          expect(Buffer.concat(out)).toEqual(stream);
          expect(out[0]!.length).toBe(4);
          // Each frame starts a message; a frame that fits is one message.
          let m = 1;
          for (const frame of frames) {
            expect(Buffer.from(out[m]!.subarray(0, 10))).toEqual(Buffer.from(frame.subarray(0, 10)));
            m += Math.ceil(frame.length / MAX_MESSAGE);
          }
          expect(m).toBe(out.length);
          for (const message of out) expect(message.length).toBeLessThanOrEqual(MAX_MESSAGE);
        },
      ),
      { numRuns: 60 },
    );
  });
});

/** Two channels joined by a simulated network that loses, duplicates and reorders, on a fake clock. */
function simulate(options: {
  loss: number;
  duplicate: number;
  reorder: number;
  seed: number;
  messages: number;
}) {
  const random = mulberry32(options.seed);
  let now = 0;
  const queue: { at: number; to: 'a' | 'b'; bytes: Uint8Array }[] = [];
  const timers: Record<'a' | 'b', number | undefined> = { a: undefined, b: undefined };
  const delivered: Record<'a' | 'b', number[]> = { a: [], b: [] };
  const failures: string[] = [];
  const make = (self: 'a' | 'b', other: 'a' | 'b') =>
    new ReliableChannel({ ...CHANNEL_DEFAULTS, now: () => now, random } as ChannelOptions, {
      transmit: (bytes) => {
        if (random() < options.loss) return;
        const copies = random() < options.duplicate ? 2 : 1;
        for (let i = 0; i < copies; i++) {
          queue.push({ at: now + 5 + random() * options.reorder, to: other, bytes: Uint8Array.from(bytes) });
        }
      },
      deliver: (bytes) => {
        delivered[self].push(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0));
        return true;
      },
      ended: () => {},
      writable: () => {},
      failed: (reason) => failures.push(reason),
      setTimer: (ms) => {
        timers[self] = ms === undefined ? undefined : now + ms;
      },
    });
  const channels = { a: make('a', 'b'), b: make('b', 'a') };
  let sent = 0;
  const message = (n: number) => {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, n);
    return bytes;
  };
  for (let step = 0; step < 200_000; step++) {
    while (sent < options.messages && channels.a.unacknowledged < 64) {
      channels.a.send(message(sent));
      channels.b.send(message(sent));
      sent++;
    }
    if (sent === options.messages && channels.a.drained && channels.b.drained) break;
    queue.sort((x, y) => x.at - y.at);
    const nextTimer = Math.min(timers.a ?? Infinity, timers.b ?? Infinity);
    const nextPacket = queue[0]?.at ?? Infinity;
    if (nextTimer === Infinity && nextPacket === Infinity) break;
    if (nextPacket <= nextTimer) {
      const packet = queue.shift()!;
      now = packet.at;
      channels[packet.to].receive(packet.bytes);
    } else {
      now = nextTimer;
      for (const side of ['a', 'b'] as const) {
        if (timers[side] !== undefined && timers[side]! <= now) {
          timers[side] = undefined;
          channels[side].onTimer();
        }
      }
    }
  }
  return { channels, delivered, failures, now };
}

describe('reliable channel (spec §13.3.6-13.3.7)', () => {
  it('delivers every message once and in order over a perfect link', () => {
    const r = simulate({ loss: 0, duplicate: 0, reorder: 0, seed: 1, messages: 500 });
    const all = Array.from({ length: 500 }, (_, i) => i);
    expect(r.delivered.b).toEqual(all);
    expect(r.delivered.a).toEqual(all);
    expect(r.channels.a.stats.retransmissions).toBe(0);
  });

  for (const seed of [1, 2, 3]) {
    it(`delivers every message once and in order with 20% loss, 10% duplicates and reordering (seed ${seed})`, () => {
      const r = simulate({ loss: 0.2, duplicate: 0.1, reorder: 30, seed, messages: 2000 });
      const all = Array.from({ length: 2000 }, (_, i) => i);
      expect(r.failures).toEqual([]);
      expect(r.delivered.b).toEqual(all);
      expect(r.delivered.a).toEqual(all);
      expect(r.channels.a.stats.retransmissions).toBeGreaterThan(0);
      expect(r.channels.b.stats.duplicates).toBeGreaterThan(0);
    });
  }

  it('backs off exponentially with jitter, then gives up', () => {
    let now = 0;
    const sends: number[] = [];
    let timer: number | undefined;
    const failures: string[] = [];
    const channel = new ReliableChannel(
      { ...CHANNEL_DEFAULTS, now: () => now, random: mulberry32(9) } as ChannelOptions,
      {
        transmit: () => sends.push(now),
        deliver: () => true,
        ended: () => {},
        writable: () => {},
        failed: (reason) => failures.push(reason),
        setTimer: (ms) => {
          timer = ms === undefined ? undefined : now + ms;
        },
      },
    );
    channel.send(new Uint8Array([1]));
    for (let i = 0; i < 100 && timer !== undefined; i++) {
      now = timer;
      channel.onTimer();
    }
    expect(sends.length).toBe(CHANNEL_DEFAULTS.maxTries);
    const gaps = sends.slice(1).map((t, i) => t - sends[i]!);
    // Each wait is the initial RTO × 2^k (capped), times a factor in [0.8, 1.2).
    gaps.forEach((gap, k) => {
      const base = Math.min(CHANNEL_DEFAULTS.maxRtoMs, CHANNEL_DEFAULTS.initialRtoMs * 2 ** k);
      expect(gap).toBeGreaterThanOrEqual(base * 0.8);
      expect(gap).toBeLessThan(base * 1.2);
    });
    expect(new Set(gaps.slice(-4).map((g) => Math.round(g))).size).toBeGreaterThan(1); // jitter
    expect(failures).toHaveLength(1);
    expect(channel.failed).toBe(true);
  });
});
