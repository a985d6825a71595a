import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmplificationBudget } from '../../src/transport/udp/budget.js';
import { CookieJar } from '../../src/transport/udp/cookie.js';
import { ClientHandshake } from '../../src/transport/udp/handshake.js';
import { KeyTable, keyFromToken, tokenDigest } from '../../src/transport/udp/keys.js';
import { SecureEndpoint } from '../../src/transport/udp/secure-endpoint.js';
import { DatagramType } from '../../src/transport/udp/wire.js';

/** A SecureEndpoint with no socket: what it would send is counted, what it would accept is recorded. */
function endpoint() {
  const sent: Uint8Array[] = [];
  const accepted: unknown[] = [];
  const budget = new AmplificationBudget(1200);
  const secure = new SecureEndpoint(
    {
      cookies: new CookieJar(),
      budget,
      keys: new KeyTable(['sensor-token-1'], true),
      send: (bytes) => sent.push(bytes),
      accept: (conduit) => accepted.push(conduit),
      accepting: () => true,
    },
    { maxSessions: 10, handshakeTimeoutMs: 1000, idleTimeoutMs: 1000 },
  );
  return { secure, sent, accepted, budget };
}

describe('key table (spec §13.3.3)', () => {
  it('finds keys by id, and follows the accepted tokens when they change', () => {
    const table = new KeyTable(['sensor-token-1'], false);
    const one = keyFromToken('sensor-token-1');
    const two = keyFromToken('sensor-token-2');
    expect(table.find(one.keyId)?.psk).toEqual(one.psk);
    expect(table.find(keyFromToken('').keyId)).toBeUndefined(); // anonymous off
    table.replace([tokenDigest('sensor-token-2')], true);
    expect(table.find(one.keyId)).toBeUndefined(); // revoked: no new session
    expect(table.find(two.keyId)?.psk).toEqual(two.psk);
    expect(table.find(keyFromToken('').keyId)).toBeDefined();
    expect(table.size).toBe(2);
  });
});

describe('secure datagrams from a hostile peer (spec §13.3)', () => {
  it('random datagrams after 0x8E: no throw, no session, no more bytes out than in', () => {
    const { secure, sent, accepted } = endpoint();
    let bytesIn = 0;
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 10 }),
          fc.uint8Array({ minLength: 0, maxLength: 1300 }),
          fc.integer({ min: 1, max: 65535 }),
          (type, body, port) => {
            const bytes = Buffer.concat([Buffer.from([0x8e, type]), body]);
            bytesIn += bytes.length;
            secure.handle({ bytes, address: '192.0.2.1', port });
          },
        ),
        { numRuns: 5000 },
      );
      const bytesOut = sent.reduce((n, b) => n + b.length, 0);
      expect(accepted).toEqual([]);
      expect(secure.sessionCount).toBe(0);
      expect(bytesOut).toBeLessThanOrEqual(bytesIn + 1200);
    } finally {
      secure.close();
    }
  });

  it('HELLOs with forged cookies never reach the key agreement', () => {
    const { secure, sent, accepted } = endpoint();
    try {
      const hello = new ClientHandshake(keyFromToken('sensor-token-1'));
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (cookie) => {
          secure.handle({ bytes: Buffer.from(hello.hello(cookie)), address: '192.0.2.2', port: 4000 });
        }),
        { numRuns: 500 },
      );
      expect(accepted).toEqual([]);
      expect(secure.stats().handshakes).toBe(0);
      expect(sent.every((b) => b[1] === DatagramType.COOKIE && b.length === 22)).toBe(true);
    } finally {
      secure.close();
    }
  });

  it('a cookie for one address or port does not open a session for another', () => {
    const { secure, sent, accepted } = endpoint();
    try {
      const hello = new ClientHandshake(keyFromToken('sensor-token-1'));
      secure.handle({ bytes: Buffer.from(hello.hello()), address: '192.0.2.3', port: 4000 });
      const cookie = sent.pop()!.subarray(2);
      secure.handle({ bytes: Buffer.from(hello.hello(cookie)), address: '192.0.2.4', port: 4000 });
      secure.handle({ bytes: Buffer.from(hello.hello(cookie)), address: '192.0.2.3', port: 4001 });
      expect(accepted).toEqual([]);
      secure.handle({ bytes: Buffer.from(hello.hello(cookie)), address: '192.0.2.3', port: 4000 });
      expect(accepted).toHaveLength(1);
      // The same HELLO again (a WELCOME was lost): the same WELCOME, not a second session.
      const welcome = sent.at(-1)!;
      secure.handle({ bytes: Buffer.from(hello.hello(cookie)), address: '192.0.2.3', port: 4000 });
      expect(accepted).toHaveLength(1);
      expect(Buffer.from(sent.at(-1)!)).toEqual(Buffer.from(welcome));
    } finally {
      secure.close();
    }
  });
});
