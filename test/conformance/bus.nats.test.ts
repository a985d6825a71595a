import { describe, expect, it } from 'vitest';
import { NatsBus } from '../../src/bus/nats.js';
import { type Nats, openNats } from '../../src/storage/nats/connection.js';
import { enginesMissing, NATS_URL, uniqueName } from '../helpers/engines.js';
import { busConformance } from './bus.js';

const missing = await enginesMissing();

if (missing === undefined) {
  busConformance('NatsBus', {
    async open() {
      const cluster = uniqueName('nxbus');
      const connections: Nats[] = [await openNats([NATS_URL], { cluster, requireJetStream: false })];
      const bus = new NatsBus(connections[0]!);
      return {
        bus,
        // Another node: its own connection, same cluster name.
        peer: async () => {
          const nats = await openNats([NATS_URL], { cluster, requireJetStream: false });
          connections.push(nats);
          return new NatsBus(nats);
        },
        close: async () => {
          await bus.close();
          for (const c of connections) await c.close();
        },
      };
    },
  });

  describe('NatsBus cluster prefix', () => {
    it('keeps clusters sharing one NATS apart', async () => {
      const a = await openNats([NATS_URL], { cluster: uniqueName('nxbus'), requireJetStream: false });
      const b = await openNats([NATS_URL], { cluster: uniqueName('nxbus'), requireJetStream: false });
      try {
        const heard: string[] = [];
        const busB = new NatsBus(b);
        busB.subscribe('chat.>', (m) => heard.push(m.subject));
        await busB.flush();
        // The raw subject on the wire is prefixed.
        const raw: string[] = [];
        const rawSub = a.nc.subscribe(`${a.cluster}.>`, { callback: (_e, m) => void raw.push(m.subject) });
        await a.nc.flush();
        new NatsBus(a).publish('chat.x', new Uint8Array(1));
        await a.nc.flush();
        await new Promise((r) => setTimeout(r, 100));
        expect(heard).toEqual([]);
        expect(raw).toEqual([`${a.cluster}.chat.x`]);
        rawSub.unsubscribe();
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
} else {
  // Reached only when an engine is missing: enginesMissing() printed why (and threw under CI=true).
  describe.skipIf(missing !== undefined)(`NatsBus (${missing})`, () => {
    it('needs NATS', () => {});
  });
}
