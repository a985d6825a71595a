import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relay, startRelay } from '../../bench/udp-relay.js';
import { NexoClient } from '../../src/client/client.js';
import { SensorClient } from '../../src/client/sensor-client.js';
import { udpSocketFactory } from '../../src/client/udp.js';
import type { NexoNode } from '../../src/node/node.js';
import { ClientHandshake } from '../../src/transport/udp/handshake.js';
import { keyFromToken } from '../../src/transport/udp/keys.js';
import { DatagramType, HELLO_MIN_SIZE } from '../../src/transport/udp/wire.js';
import { startNode } from '../helpers/node.js';
import { eventually, failure } from '../helpers/telemetry.js';
import { UdpPeer } from '../helpers/udp.js';

function udpClient(
  port: number,
  token?: string,
  extra: Partial<ConstructorParameters<typeof NexoClient>[0]> = {},
) {
  return new NexoClient({
    endpoints: [`127.0.0.1:${port}`],
    socketFactory: udpSocketFactory({ token }),
    token,
    reconnect: false,
    connectTimeoutMs: 3000,
    ...extra,
  });
}

/** HELLO, COOKIE, HELLO with the cookie, WELCOME, by hand: the session's record layer. */
async function rawHandshake(peer: UdpPeer, port: number, token?: string) {
  const handshake = new ClientHandshake(keyFromToken(token));
  await peer.send(handshake.hello(), port);
  const cookie = (await peer.next())!;
  expect(cookie[1]).toBe(DatagramType.COOKIE);
  await peer.send(handshake.hello(cookie.subarray(2)), port);
  const welcome = (await peer.next())!;
  expect(welcome[1]).toBe(DatagramType.WELCOME);
  return handshake.welcome(welcome);
}

/** A pure acknowledgement (§13.3.6): ack 0, sack 0, no message. */
const PURE_ACK = new Uint8Array(13);

describe('secure UDP sessions (spec §13.3)', () => {
  let node: NexoNode & { port: number };
  let port: number;
  beforeAll(async () => {
    node = await startNode({ udp: { handshakeTimeout: '200ms', idleTimeout: '1s' } });
    port = node.udp!.listener.address().port;
  });
  afterAll(() => node.close({ timeoutMs: 2000 }));

  it('carries the whole protocol: calc and an acknowledged report over UDP', async () => {
    const client = udpClient(port);
    try {
      await client.connect();
      expect(await client.calc.eval('2*(3+4)')).toEqual({ value: '14' });
      const ack = await client.telemetry.report('u1', { metric: 'temperature', value: 21.5, seq: 1 });
      expect(ack).toMatchObject({ accepted: 1, duplicates: 0 });
      // Exactly once by seq, as over TCP (§9.T.2).
      const again = await client.telemetry.report('u1', { metric: 'temperature', value: 21.5, seq: 1 });
      expect(again).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(node.connectionsByTransport().udp).toBe(1);
    } finally {
      await client.close();
    }
    await eventually(() => (node.udp!.sessions === 0 ? true : undefined));
  });

  it('through a relay that loses 10%, duplicates and reorders: every reading once, in order', async () => {
    // Default timeouts: this describe's 200 ms handshake timeout is shorter than a lost first record's RTO.
    const lossyNode = await startNode();
    const relay = await startRelay({
      target: { host: '127.0.0.1', port: lossyNode.udp!.listener.address().port },
      loss: 0.1,
      duplicate: 0.1,
      reorderMs: 15,
      seed: 7,
    });
    const client = udpClient(relay.port, undefined, { reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    try {
      await client.connect();
      const sensor = new SensorClient(client, {
        sensor: 'lossy',
        batchSize: 20,
        maxInFlight: 4,
        firstSeq: 1,
      });
      const base = Date.now() - 60_000;
      for (let i = 0; i < 1000; i++) sensor.report('temperature', i, { ts: base + i });
      await sensor.flush();
      expect(sensor.stats.acked).toBe(1000);
      const page = await client.telemetry.readings({ sensor: 'lossy', metric: 'temperature', limit: 2000 });
      expect(page.readings.map((r) => r.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(page.readings.map((r) => r.value)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      // Stored in the order sent: the node received them in seq order.
      const recv = page.readings.map((r) => r.recv);
      expect(recv).toEqual([...recv].sort((a, b) => a - b));
      expect(relay.stats.dropped).toBeGreaterThan(20);
      expect(relay.stats.duplicated).toBeGreaterThan(5);
      // The relay's duplicates were caught by the replay window and counted.
      expect(lossyNode.udp!.stats().secure.replayed).toBeGreaterThan(0);
    } finally {
      await client.close();
      await relay.close();
      await lossyNode.close({ timeoutMs: 1000 });
    }
  });

  it('drops a replayed datagram and counts it; the reading is stored once', async () => {
    let captured: { client: string; bytes: Buffer } | undefined;
    const relay: Relay = await startRelay({
      target: { host: '127.0.0.1', port },
      tap: (direction, bytes, client) => {
        if (direction === 'up' && bytes[1] === DatagramType.RECORD && bytes.length > 100)
          captured ??= { client, bytes };
      },
    });
    const client = udpClient(relay.port);
    try {
      await client.connect();
      await client.telemetry.report('replay', { metric: 'temperature', value: 1, seq: 1 });
      expect(captured).toBeDefined();
      const before = node.udp!.stats().secure.replayed;
      relay.inject(captured!.client, captured!.bytes);
      await eventually(() => (node.udp!.stats().secure.replayed === before + 1 ? true : undefined));
      await client.telemetry.report('replay', { metric: 'temperature', value: 2, seq: 2 });
      const page = await client.telemetry.readings({ sensor: 'replay', metric: 'temperature' });
      expect(page.readings.map((r) => r.seq)).toEqual([1, 2]);
    } finally {
      await client.close();
      await relay.close();
    }
  });

  it('rejects forged and tampered records without harm to the session', async () => {
    let session: { client: string; bytes: Buffer } | undefined;
    const relay = await startRelay({
      target: { host: '127.0.0.1', port },
      tap: (direction, bytes, client) => {
        if (direction === 'up' && bytes[1] === DatagramType.RECORD) session ??= { client, bytes };
      },
    });
    const client = udpClient(relay.port);
    try {
      await client.connect();
      const before = node.udp!.stats().secure.rejected;
      const forged = Buffer.from(session!.bytes);
      forged.writeUInt32BE(1_000_000, 10); // a fresh packet number
      forged[forged.length - 1]! ^= 0xff; // and a tag that cannot verify
      relay.inject(session!.client, forged);
      const garbage = Buffer.concat([session!.bytes.subarray(0, 6), Buffer.alloc(8, 0), Buffer.alloc(40, 7)]);
      garbage.writeUInt32BE(2_000_000, 10);
      relay.inject(session!.client, garbage);
      await eventually(() => (node.udp!.stats().secure.rejected === before + 2 ? true : undefined));
      expect(await client.calc.eval('1+1')).toEqual({ value: '2' });
    } finally {
      await client.close();
      await relay.close();
    }
  });

  it('keeps nothing for HELLOs that do not return a cookie, and sends less than it receives', async () => {
    const flood = await startNode({ udp: { unverifiedBudget: 1200 } });
    const fport = flood.udp!.listener.address().port;
    const peers = await Promise.all(Array.from({ length: 50 }, () => UdpPeer.open()));
    try {
      const handshake = new ClientHandshake(keyFromToken(undefined));
      const withFakeCookie = handshake.hello(Buffer.alloc(20, 9));
      for (let round = 0; round < 10; round++) {
        await Promise.all(
          peers.map((p, i) => p.send(i % 2 === 0 ? handshake.hello() : withFakeCookie, fport)),
        );
        await new Promise((r) => setTimeout(r, 10));
      }
      await eventually(() => (flood.udp!.stats().datagramsIn >= 450 ? true : undefined));
      const stats = flood.udp!.stats();
      expect(stats.secure.sessions).toBe(0);
      expect(stats.secure.handshakes).toBe(0);
      expect(stats.secure.cookiesSent).toBe(stats.datagramsIn);
      expect(flood.connectionCount).toBe(0);
      expect(stats.bytesOut).toBeLessThanOrEqual(stats.bytesIn);
      expect(stats.bytesOut * 50).toBeLessThan(stats.bytesIn); // 22 bytes for 1200
      for (const p of peers)
        expect(p.received.every((d) => d.length === 22 && d[1] === DatagramType.COOKIE)).toBe(true);
    } finally {
      for (const p of peers) p.close();
      await flood.close({ timeoutMs: 1000 });
    }
  });

  it('ignores malformed secure datagrams: short, unknown types, bad HELLOs', async () => {
    const peer = await UdpPeer.open();
    try {
      const before = node.udp!.stats().secure.malformed;
      const junk = [
        [0x8e, 0x07],
        [0x8e, 0x02, 1, 2],
        [0x8e, 0x03, ...new Array(60).fill(0)],
        [0x8e, 0x01, 1, 0], // a HELLO shorter than 1200 bytes
        [0x8e, 0x04, 0, 0],
      ];
      for (const j of junk) await peer.send(Buffer.from(j), port);
      const wrongVersion = new ClientHandshake(keyFromToken(undefined)).hello();
      wrongVersion[2] = 9;
      await peer.send(wrongVersion, port);
      const badCookieLength = new ClientHandshake(keyFromToken(undefined)).hello();
      badCookieLength[3] = 7;
      await peer.send(badCookieLength, port);
      await eventually(() => (node.udp!.stats().secure.malformed === before + 7 ? true : undefined));
      expect(await peer.next(200)).toBeUndefined();
      expect(HELLO_MIN_SIZE).toBe(1200);
    } finally {
      peer.close();
    }
  });

  it('answers a record of an unknown session with RESET', async () => {
    const peer = await UdpPeer.open();
    try {
      const record = Buffer.alloc(60);
      record[0] = 0x8e;
      record[1] = DatagramType.RECORD;
      record.writeUInt32BE(12345, 2);
      await peer.send(record, port);
      const reset = await peer.next();
      expect([...reset!]).toEqual([0x8e, 0x05, 0, 0, 0x30, 0x39]);
    } finally {
      peer.close();
    }
  });

  it('forgets a session whose handshake never finishes (udp.handshakeTimeout)', async () => {
    await eventually(() => (node.udp!.sessions === 0 ? true : undefined), 3000); // earlier tests' sessions
    const peer = await UdpPeer.open();
    try {
      const before = node.udp!.stats().secure.handshakeTimeouts;
      await rawHandshake(peer, port);
      expect(node.udp!.sessions).toBe(1);
      await eventually(() => (node.udp!.sessions === 0 ? true : undefined), 3000);
      expect(node.udp!.stats().secure.handshakeTimeouts).toBe(before + 1);
      const metrics = await node.metrics.text();
      expect(metrics).toContain(`nexo_udp_sessions_expired_total{reason="handshake_timeout"} ${before + 1}`);
      // A handshake cut by its timeout is a limit as well (docs/http.md "Metrics").
      expect(metrics).toContain(`nexo_limited_total{reason="udp_handshake_timeout"} ${before + 1}`);
      await eventually(() => (node.connectionCount === 0 ? true : undefined));
    } finally {
      peer.close();
    }
  });

  it('forgets a session that goes quiet (udp.idleTimeout)', async () => {
    await eventually(() => (node.udp!.sessions === 0 ? true : undefined), 3000);
    const peer = await UdpPeer.open();
    try {
      const before = node.udp!.stats().secure.idleTimeouts;
      const record = await rawHandshake(peer, port);
      await peer.send(record.seal(PURE_ACK), port);
      await new Promise((r) => setTimeout(r, 300));
      expect(node.udp!.sessions).toBe(1);
      await eventually(() => (node.udp!.sessions === 0 ? true : undefined), 4000);
      expect(node.udp!.stats().secure.idleTimeouts).toBe(before + 1);
      expect(await node.metrics.text()).toContain(
        `nexo_udp_sessions_expired_total{reason="idle_timeout"} ${before + 1}`,
      );
    } finally {
      peer.close();
    }
  });
});

describe('a draining node and its UDP sessions (spec §13.3.8, §7.3)', () => {
  it('tells open sessions it is going away, refuses new ones, and closes the socket last', async () => {
    const draining = await startNode();
    const port = draining.udp!.listener.address().port;
    const client = udpClient(port);
    await client.connect();
    const goaway = new Promise<string>((resolve) => client.on('goaway', (g) => resolve(g.code)));
    const closed = draining.close({ timeoutMs: 3000 });
    expect(await goaway).toBe('SHUTTING_DOWN');
    const late = udpClient(port);
    const refused = await failure(late.connect());
    expect(['SHUTTING_DOWN', 'CONNECTION_REFUSED']).toContain(refused.code);
    late.destroy();
    await closed;
    expect(draining.udp!.sessions).toBe(0);
    client.destroy();
  });
});

describe('secure UDP sessions with tokens (spec §13.3.3, §13.3.8)', () => {
  let node: NexoNode & { port: number };
  let port: number;
  beforeAll(async () => {
    node = await startNode({
      auth: { anonymous: false, tokens: { 'sensor-token-1': 'sensor', 'sensor-token-2': 'sensor' } },
      udp: { maxSessions: 2 },
    });
    port = node.udp!.listener.address().port;
  });
  afterAll(() => node.close({ timeoutMs: 2000 }));

  it('accepts nothing under a wrong key or without one', async () => {
    for (const token of ['not-a-known-token', undefined]) {
      const client = udpClient(port, token);
      const error = await failure(client.connect());
      expect(error.code).toBe('AUTH_FAILED');
      client.destroy();
    }
    const stats = node.udp!.stats().secure;
    expect(stats.authFailures).toBe(2);
    expect(stats.sessions).toBe(0);
  });

  it('caps the sessions: the third is refused SERVER_BUSY', async () => {
    const a = udpClient(port, 'sensor-token-1');
    const b = udpClient(port, 'sensor-token-2');
    const c = udpClient(port, 'sensor-token-1');
    try {
      await a.connect();
      await b.connect();
      expect((await a.telemetry.report('k1', { metric: 't', value: 1, seq: 1 })).accepted).toBe(1);
      expect((await failure(c.connect())).code).toBe('SERVER_BUSY');
      expect(node.udp!.stats().secure.refusedBusy).toBe(1);
      expect(await node.metrics.text()).toContain('nexo_limited_total{reason="udp_sessions"} 1');
    } finally {
      await a.close();
      await b.close();
      c.destroy();
    }
  });
});
