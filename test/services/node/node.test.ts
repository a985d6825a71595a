import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStats } from '../../../src/client/api/node.js';
import type { ServiceDefinition } from '../../../src/contract/service.js';
import type { NexoNode } from '../../../src/node/node.js';
import { builtinServices } from '../../../src/services/index.js';
import { startNode, textSession } from '../../helpers/node.js';
import { clientOver, tcp, ws } from '../../helpers/transports.js';

/** A service that reports a counter, as telemetry will report its readings. */
let readings = 0;
function meterService(): ServiceDefinition {
  return {
    name: 'meter',
    description: 'test-only: a counter the node service turns into a rate',
    methods: {},
    stats: () => ({ counters: { readings }, gauges: { sensors: 3 } }),
  };
}

let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode(
    { nodeId: 'stats-node', http: { port: 0 } },
    { services: [...builtinServices(), meterService] },
  );
});
afterAll(() => node.close({ timeoutMs: 2000 }));

describe('node service', () => {
  it('names the node and its services', async () => {
    const client = await clientOver(tcp, node);
    const info = await client.node.info();
    expect(info).toMatchObject({
      node: 'stats-node',
      server: 'nexo/0.1.0',
      http: { port: node.httpAddress()!.port },
    });
    expect(info.services).toEqual(expect.arrayContaining(['calc', 'greet', 'echo', 'chat', 'node', 'meter']));
    await client.close();
  });

  it('counts open connections by transport and measures requests per second', async () => {
    const overTcp = await clientOver(tcp, node);
    const overWs = await clientOver(ws, node);
    const text = textSession(node.port, 'ping\n', { until: /pong/ });
    await text;
    // A burst of requests: the rate over the last seconds must show it.
    await Promise.all(Array.from({ length: 400 }, (_, i) => overTcp.calc.eval(`${i}+1`)));
    await new Promise((r) => setTimeout(r, 300));
    const stats = await overWs.node.stats();
    expect(stats.connections.tcp).toBeGreaterThanOrEqual(1);
    expect(stats.connections.ws).toBeGreaterThanOrEqual(1);
    expect(stats.connections.total).toBe(
      Object.entries(stats.connections)
        .filter(([k]) => k !== 'total')
        .reduce((a, [, v]) => a + v, 0),
    );
    expect(stats.requests.total).toBeGreaterThanOrEqual(400);
    expect(stats.requests.perSecond).toBeGreaterThan(50);
    expect(stats.uptimeMs).toBeGreaterThan(0);
    expect(stats.draining).toBe(false);
    await overTcp.close();
    await overWs.close();
  });

  it("turns a service's counters into rates (telemetry's ingest rate will show the same way)", async () => {
    const client = await clientOver(ws, node);
    const seen: NodeStats[] = [];
    const timer = setInterval(() => {
      readings += 50; // 50 every 50 ms: about 1000 per second
    }, 50);
    const watch = await client.node.watch((s) => seen.push(s), { intervalMs: 250 });
    await expect
      .poll(() => seen.at(-1)?.services.meter?.rates.readings ?? 0, { timeout: 5000 })
      .toBeGreaterThan(500);
    clearInterval(timer);
    watch.cancel();
    await expect(watch.result).rejects.toMatchObject({ code: 'CANCELLED' });
    const last = seen.at(-1)!;
    expect(last.services.meter).toMatchObject({
      gauges: { sensors: 3 },
      counters: { readings: expect.any(Number) },
    });
    expect(last.services.chat?.gauges).toMatchObject({
      rooms: expect.any(Number),
      members: expect.any(Number),
    });
    // Snapshots came on their own, about every 250 ms.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    await client.close();
  });

  it('answers `status` in text mode and GET /api/node', async () => {
    const out = await textSession(node.port, 'status\nquit\n');
    expect(out).toMatch(
      /^node stats-node, up \d+s\nconnections: tcp \d+, ws \d+, http \d+\nrequests: \d+ total, [\d.]+\/s; errors: \d+\nstorage: embedded\n$/,
    );
    const response = await fetch(`http://127.0.0.1:${node.httpAddress()!.port}/api/node`);
    expect(await response.json()).toMatchObject({
      node: 'stats-node',
      services: { meter: { gauges: { sensors: 3 } } },
    });
  });

  it('lists this node alone as the membership outside cluster mode, over the protocol and GET /api/cluster/members', async () => {
    const client = await clientOver(tcp, node);
    const members = await client.node.members();
    expect(members).toMatchObject({ cluster: null, self: 'stats-node' });
    expect(members.members).toHaveLength(1);
    expect(members.members[0]).toMatchObject({
      id: 'stats-node',
      state: 'ready',
      version: '0.1.0',
      ports: { tcp: node.port, http: node.httpAddress()!.port },
      load: { connections: expect.any(Number), requestsPerSec: expect.any(Number) },
    });
    const response = await fetch(`http://127.0.0.1:${node.httpAddress()!.port}/api/cluster/members`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      cluster: null,
      self: 'stats-node',
      members: [{ id: 'stats-node' }],
    });
    await client.close();
  });

  it('refuses watch intervals that would flood the client', async () => {
    const client = await clientOver(tcp, node);
    await expect(client.request('node', 'watch', { intervalMs: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARGS',
    });
    await client.close();
  });
});
