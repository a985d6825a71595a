import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { AmplificationBudget } from '../../src/transport/udp/budget.js';
import { CookieJar } from '../../src/transport/udp/cookie.js';
import { ClientHandshake } from '../../src/transport/udp/handshake.js';
import { KeyTable, keyFromToken } from '../../src/transport/udp/keys.js';
import { RecordLayer } from '../../src/transport/udp/record.js';
import { CHANNEL_DEFAULTS, ReliableChannel } from '../../src/transport/udp/reliable.js';
import { REPLAY_WINDOW, ReplayWindow } from '../../src/transport/udp/replay-window.js';
import { SecureEndpoint } from '../../src/transport/udp/secure-endpoint.js';
import { MAX_MESSAGE } from '../../src/transport/udp/wire.js';
import { assert, assertEqual, type FuzzTarget, mutated, variants } from '../engine.js';

type Delivery =
  | { kind: 'record'; index: number }
  | { kind: 'mutated'; index: number; bytes: Uint8Array }
  | { kind: 'random'; bytes: Uint8Array };

interface RecordInput {
  plaintexts: Uint8Array[];
  deliveries: { kind: 'record' | 'mutated' | 'random'; index: number; edits: Uint8Array; random: Uint8Array }[];
  /** Packet numbers for the bare replay window, with jumps past it. */
  numbers: number[];
}

const recordInput: fc.Arbitrary<RecordInput> = fc.record({
  plaintexts: fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 12 }),
  deliveries: fc.array(
    fc.record({
      kind: fc.constantFrom('record', 'record', 'mutated', 'random'),
      index: fc.nat(),
      edits: fc.uint8Array({ minLength: 1, maxLength: 3 }),
      random: fc.uint8Array({ maxLength: 120 }),
    }),
    { maxLength: 30 },
  ),
  numbers: fc.array(
    fc.oneof(fc.nat({ max: 40 }), fc.nat({ max: 5000 }), fc.constantFrom(REPLAY_WINDOW - 1, REPLAY_WINDOW, 2 ** 40)),
    { maxLength: 40 },
  ),
});

/** Changes 1-3 bytes (at least one byte really changes). */
function mutate(bytes: Uint8Array, edits: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  const used = new Set<number>();
  for (let i = 0; i < edits.length; i++) {
    const at = (edits[i]! * 7919 + i * 31) % out.length;
    if (used.has(at)) continue; // two flips of one byte could cancel out
    used.add(at);
    out[at]! ^= (edits[i]! % 255) + 1;
  }
  return out;
}

/**
 * §13.3.5 record layer and replay window: random, mutated, reordered and replayed datagrams never throw;
 * an authentic record opens exactly once and gives its plaintext; a changed one never opens; the replay
 * window agrees with a model (a set of seen numbers and the highest one, WINDOW deep).
 */
export const udpRecord: FuzzTarget<RecordInput> = {
  name: 'udp-record',
  arbitrary: recordInput,
  check({ plaintexts, deliveries, numbers }) {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const a = new RecordLayer(9, k1, k2);
    const b = new RecordLayer(9, k2, k1);
    const sealed = plaintexts.map((p) => a.seal(p));
    const opened = new Set<number>();
    for (const d of deliveries) {
      const index = d.index % sealed.length;
      const delivery: Delivery =
        d.kind === 'record'
          ? { kind: 'record', index }
          : d.kind === 'mutated'
            ? { kind: 'mutated', index, bytes: mutate(sealed[index]!, d.edits) }
            : { kind: 'random', bytes: d.random };
      if (delivery.kind === 'record') {
        const plain = b.open(sealed[index]!);
        if (opened.has(index)) assert(plain === undefined, `record ${index} opened twice (replay)`);
        else {
          assert(plain !== undefined, `authentic record ${index} did not open`);
          assertEqual(Buffer.from(plain), Buffer.from(plaintexts[index]!), 'plaintext');
          opened.add(index);
        }
      } else {
        assert(b.open(delivery.bytes) === undefined, `${delivery.kind} datagram opened`);
      }
    }
    // Many more mutations of one sealed record (length, header, tag): none opens, none throws.
    const one = sealed[0]!;
    let tried = deliveries.length;
    tried += variants(one, 60, one.length * 17 + numbers.length, (v) => {
      if (Buffer.compare(Buffer.from(v), Buffer.from(one)) === 0) return;
      assert(b.open(v) === undefined, 'a mutated record opened');
    });
    // The bare window against its model.
    const window = new ReplayWindow();
    const seen = new Set<number>();
    let highest = -1;
    for (const n of numbers) {
      const expected = n > highest || (highest - n < REPLAY_WINDOW && !seen.has(n));
      assertEqual(window.fresh(n), expected, `fresh(${n}) after highest ${highest}`);
      if (expected) {
        window.mark(n);
        seen.add(n);
        highest = Math.max(highest, n);
      }
    }
    return tried + numbers.length;
  },
};

// ---- the reliable channel's plaintext, and the node's endpoint -----------------------------------------

interface ChannelInput {
  messages: Uint8Array[];
  /** Order of the sender's records as received: indices into what it transmitted (repeats = duplicates). */
  order: number[];
  junk: Uint8Array[];
}

/**
 * §13.3.6-13.3.7 the reliable channel fed its peer's records lost, duplicated and reordered delivers the
 * messages in order, each once, up to the first one never received; junk plaintext (records are
 * authenticated, but a peer with the key may still send nonsense) never throws.
 */
export const udpChannel: FuzzTarget<ChannelInput> = {
  name: 'udp-channel',
  arbitrary: fc.record({
    messages: fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 20 }),
    order: fc.array(fc.nat(), { maxLength: 40 }),
    junk: fc.array(
      fc.oneof(fc.uint8Array({ maxLength: 40 }), mutated(fc.constant(new Uint8Array(13)), 6)),
      { maxLength: 6 },
    ),
  }),
  check({ messages, order, junk }) {
    const clock = { now: () => 0, random: () => 0.5 };
    const transmitted: Uint8Array[] = [];
    const sender = new ReliableChannel(
      { ...CHANNEL_DEFAULTS, ...clock },
      {
        transmit: (p) => transmitted.push(Buffer.from(p)),
        deliver: () => true,
        ended: () => {},
        writable: () => {},
        failed: () => {},
        setTimer: () => {},
      },
    );
    for (const m of messages) sender.send(m.subarray(0, MAX_MESSAGE));
    const delivered: string[] = [];
    const receiver = new ReliableChannel(
      { ...CHANNEL_DEFAULTS, ...clock },
      {
        transmit: () => {},
        deliver: (m) => {
          delivered.push(Buffer.from(m).toString('hex'));
          return true;
        },
        ended: () => {},
        writable: () => {},
        failed: () => {},
        setTimer: () => {},
      },
    );
    const arrived = new Set<number>();
    for (const o of order) {
      if (transmitted.length === 0) break;
      const i = o % transmitted.length;
      arrived.add(i);
      receiver.receive(transmitted[i]!);
    }
    let k = 0;
    while (arrived.has(k)) k++;
    assertEqual(
      delivered,
      messages.slice(0, Math.min(k, messages.length)).map((m) => Buffer.from(m).toString('hex')),
      'messages delivered',
    );
    // A junk plaintext on a fresh channel: no exception.
    const victim = new ReliableChannel(
      { ...CHANNEL_DEFAULTS, ...clock },
      {
        transmit: () => {},
        deliver: () => true,
        ended: () => {},
        writable: () => {},
        failed: () => {},
        setTimer: () => {},
      },
    );
    for (const j of junk) victim.receive(j);
    victim.close();
    sender.close();
    receiver.close();
  },
};

const key = keyFromToken('fuzz-token');
const keys = new KeyTable(['fuzz-token'], false);
const cookies = new CookieJar();

interface EndpointInput {
  datagrams: { kind: 'random' | 'hello' | 'hello-cookie' | 'mutated-hello' | 'record'; bytes: Uint8Array; edits: number }[];
}

/**
 * §13.3.2, §13.3.8 the node's endpoint: any datagrams (random, HELLOs with and without a valid cookie,
 * mutated HELLOs, records for the session they opened or random ones) never throw; the node sends peers
 * whose address it has not verified no more bytes than it received from them plus the budget's cap, and
 * holds no more sessions than allowed.
 */
export const udpEndpoint: FuzzTarget<EndpointInput> = {
  name: 'udp-endpoint',
  arbitrary: fc.record({
    datagrams: fc.array(
      fc.record({
        kind: fc.constantFrom('random', 'hello', 'hello-cookie', 'mutated-hello', 'record'),
        bytes: fc.uint8Array({ maxLength: 1300 }),
        edits: fc.integer({ min: 1, max: 5 }),
      }),
      { maxLength: 12 },
    ),
  }),
  check({ datagrams }) {
    const CAP = 4096;
    const budget = new AmplificationBudget(CAP);
    let sent = 0;
    let accepted = 0;
    const endpoint = new SecureEndpoint(
      {
        cookies,
        budget,
        keys,
        send: (bytes) => {
          sent += bytes.length;
        },
        accept: () => {
          accepted++;
        },
        accepting: () => true,
      },
      { maxSessions: 2, handshakeTimeoutMs: 1000, idleTimeoutMs: 1000 },
    );
    try {
      const client = new ClientHandshake(key);
      const cookie = cookies.issue('127.0.0.7', 4000, 'hello');
      for (const d of datagrams) {
        let bytes: Uint8Array;
        if (d.kind === 'random') bytes = Uint8Array.of(0x8e, ...d.bytes.subarray(0, 1198));
        else if (d.kind === 'hello') bytes = client.hello();
        else if (d.kind === 'hello-cookie') bytes = new ClientHandshake(key).hello(cookie);
        else if (d.kind === 'mutated-hello') bytes = mutate(new ClientHandshake(key).hello(cookie), d.bytes.subarray(0, d.edits));
        else {
          bytes = Buffer.concat([Uint8Array.of(0x8e, 0x04), d.bytes.subarray(0, 200)]);
        }
        endpoint.handle({ bytes: Buffer.from(bytes), address: '127.0.0.7', port: 4000 });
        assert(endpoint.sessionCount <= 2, `${endpoint.sessionCount} sessions held (max 2)`);
      }
      // Everything sent went to one peer; before it proved its address only the budget's bytes could go.
      if (accepted === 0) assert(sent <= budget.bytesIn + CAP, `sent ${sent} bytes for ${budget.bytesIn} received`);
    } finally {
      endpoint.close();
    }
  },
};
