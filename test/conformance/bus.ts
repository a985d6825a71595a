import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../../src/bus/types.js';
import { NexoError } from '../../src/errors.js';

/**
 * The one definition of a correct Bus, run against every implementation (bus.local.test.ts,
 * bus.nats.test.ts), as aedes runs one persistence suite against each backend.
 */
export interface BusBackend {
  /** A fresh bus; `peer()` gives another bus on the same medium (another node), or undefined if none. */
  open(): Promise<{ bus: Bus; peer?: () => Promise<Bus>; close(): Promise<void> }>;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function settle(bus: Bus, extra = 0): Promise<void> {
  await bus.flush();
  await new Promise((resolve) => setTimeout(resolve, extra));
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function busConformance(name: string, backend: BusBackend): void {
  describe(`Bus conformance: ${name}`, () => {
    let bus: Bus;
    let peer: (() => Promise<Bus>) | undefined;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ bus, peer, close } = await backend.open());
    });
    afterEach(async () => {
      await close();
    });

    it('delivers a published message to every subscriber, after publish returns', async () => {
      const a: string[] = [];
      const b: string[] = [];
      bus.subscribe('t.one', (m) => a.push(dec(m.data)));
      bus.subscribe('t.one', (m) => b.push(`${m.subject}:${dec(m.data)}`));
      await bus.flush();
      bus.publish('t.one', enc('hi'));
      expect(a).toEqual([]); // never inside publish
      await until(() => a.length === 1 && b.length === 1);
      expect(a).toEqual(['hi']);
      expect(b).toEqual(['t.one:hi']);
    });

    it('keeps publish order for one publisher and one subscriber', async () => {
      const got: number[] = [];
      bus.subscribe('t.order', (m) => got.push(m.data[0]!));
      await bus.flush();
      for (let i = 0; i < 200; i++) bus.publish('t.order', Uint8Array.of(i));
      await until(() => got.length === 200);
      expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    });

    it('matches * (one token) and > (one or more, last) as NATS does', async () => {
      const star: string[] = [];
      const tail: string[] = [];
      bus.subscribe('w.*.x', (m) => star.push(m.subject));
      bus.subscribe('w.>', (m) => tail.push(m.subject));
      await bus.flush();
      for (const s of ['w.a.x', 'w.b.x', 'w.a.y', 'w.a.x.z', 'w.a', 'w']) bus.publish(s, enc(s));
      bus.publish('other.a.x', enc(''));
      await settle(bus, 50);
      expect(star.sort()).toEqual(['w.a.x', 'w.b.x']);
      expect(tail.sort()).toEqual(['w.a', 'w.a.x', 'w.a.x.z', 'w.a.y', 'w.b.x']);
    });

    it('gives each message to one member of a queue group, and to every plain subscriber', async () => {
      const counts = [0, 0, 0];
      let plain = 0;
      for (let i = 0; i < 3; i++) bus.subscribe('q.work', () => counts[i]!++, { queue: 'workers' });
      bus.subscribe('q.work', () => plain++);
      await bus.flush();
      for (let i = 0; i < 30; i++) bus.publish('q.work', enc(String(i)));
      await until(() => plain === 30);
      await settle(bus, 20);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(30);
    });

    it('stops delivering after unsubscribe', async () => {
      const got: string[] = [];
      const sub = bus.subscribe('t.unsub', (m) => got.push(dec(m.data)));
      await bus.flush();
      bus.publish('t.unsub', enc('1'));
      await until(() => got.length === 1);
      sub.unsubscribe();
      sub.unsubscribe(); // twice is harmless
      await bus.flush();
      bus.publish('t.unsub', enc('2'));
      await settle(bus, 50);
      expect(got).toEqual(['1']);
    });

    it('carries bytes unchanged, empty and large', async () => {
      const got: Uint8Array[] = [];
      bus.subscribe('t.bytes', (m) => got.push(m.data));
      await bus.flush();
      const big = new Uint8Array(512 * 1024).map((_, i) => (i * 31) & 0xff);
      bus.publish('t.bytes', new Uint8Array(0));
      bus.publish('t.bytes', big);
      await until(() => got.length === 2);
      expect(got[0]!.byteLength).toBe(0);
      expect(Buffer.from(got[1]!).equals(Buffer.from(big))).toBe(true);
    });

    it('refuses malformed subjects and oversized payloads', async () => {
      for (const bad of ['', 'a..b', 'a b', '.a', 'a.', 'a.>.b', 'x'.repeat(300), 'a\nb', 'ä']) {
        expect(() => bus.publish(bad, enc('x')), JSON.stringify(bad)).toThrow(NexoError);
      }
      expect(() => bus.publish('a.*', enc('x'))).toThrow(NexoError); // wildcards only to subscribe
      expect(() => bus.subscribe('a.>.b', () => {})).toThrow(NexoError);
      expect(() => bus.publish('t.big', new Uint8Array(1024 * 1024 + 1))).toThrow(/exceeds/);
    });

    it('survives a subscriber that throws: the others still get the message', async () => {
      const got: string[] = [];
      bus.subscribe('t.throw', () => {
        throw new Error('boom');
      });
      bus.subscribe('t.throw', (m: BusMessage) => got.push(dec(m.data)));
      await bus.flush();
      bus.publish('t.throw', enc('still'));
      await until(() => got.length === 1);
    });

    it('request/respond: the reply, the responder error, NO_RESPONDERS, TIMEOUT', async () => {
      bus.respond('svc.upper', (data) => enc(dec(data).toUpperCase()));
      bus.respond('svc.fail', () => {
        throw new NexoError('FORBIDDEN', 'not you');
      });
      bus.respond('svc.crash', () => {
        throw new Error('bug');
      });
      bus.respond('svc.slow', () => new Promise<Uint8Array>((r) => setTimeout(() => r(enc('late')), 500)));
      await bus.flush();
      expect(dec(await bus.request('svc.upper', enc('abc')))).toBe('ABC');
      await expect(bus.request('svc.fail', enc(''))).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: 'not you',
      });
      await expect(bus.request('svc.crash', enc(''))).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
      await expect(bus.request('svc.nobody', enc(''))).rejects.toMatchObject({ code: 'NO_RESPONDERS' });
      await expect(bus.request('svc.slow', enc(''), { timeoutMs: 50 })).rejects.toMatchObject({
        code: 'TIMEOUT',
      });
    });

    it('spreads requests over a queue group of responders', async () => {
      const served = [0, 0];
      for (let i = 0; i < 2; i++) {
        bus.respond(
          'svc.pool',
          () => {
            served[i]!++;
            return enc(String(i));
          },
          { queue: 'pool' },
        );
      }
      await bus.flush();
      for (let i = 0; i < 40; i++) await bus.request('svc.pool', enc(''));
      expect(served[0]! + served[1]!).toBe(40);
      expect(Math.min(...served)).toBeGreaterThan(0);
    });

    it('refuses use after close', async () => {
      await bus.close();
      expect(() => bus.publish('t.x', enc(''))).toThrow(NexoError);
      expect(() => bus.subscribe('t.x', () => {})).toThrow(NexoError);
    });

    // Only a backend that several nodes share has this property: a local one does not register it.
    if (peer !== undefined)
      it('reaches another node on the same medium, and only through the same subjects', async () => {
        const other = await peer!();
        const got: string[] = [];
        other.subscribe('n.hello', (m) => got.push(dec(m.data)));
        other.respond('n.ask', (d) => enc(`re:${dec(d)}`));
        await other.flush();
        bus.publish('n.hello', enc('from A'));
        await until(() => got.length === 1);
        expect(got).toEqual(['from A']);
        expect(dec(await bus.request('n.ask', enc('q')))).toBe('re:q');
      });
  });
}
