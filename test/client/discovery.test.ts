import { afterEach, describe, expect, it } from 'vitest';
import { connectPool, type NexoPool } from '../../src/client/index.js';
import { dropNatsCluster, enginesMissing } from '../helpers/engines.js';
import { type SharedNodes, spawnSharedNodes } from '../helpers/shared-nodes.js';

const missing = await enginesMissing();

/**
 * §14.1.4 A pool given one node's address learns the others from that node's membership (`node.members`)
 * and fails over to them: real node processes on the shared PostgreSQL and NATS (a schema and cluster of
 * this test's own), the seed node killed with SIGKILL while requests run.
 */
describe.skipIf(missing)('NexoPool discovery from the membership', { timeout: 120_000 }, () => {
  let cluster: SharedNodes | undefined;
  let pool: NexoPool | undefined;
  afterEach(async () => {
    pool?.destroy();
    pool = undefined;
    if (cluster !== undefined) {
      await cluster.close();
      await dropNatsCluster(cluster.cluster);
    }
    cluster = undefined;
  });

  it('given node A only, finds B, carries on through B when A is killed, and finds a node that joins later', async () => {
    cluster = await spawnSharedNodes(2, 'nxdisc');
    const [a, b] = cluster.endpoints as [string, string];
    const discovered: string[] = [];
    pool = await connectPool({ endpoints: [a], discover: { intervalMs: 500 }, requestTimeoutMs: 15_000 });
    pool.on('discover', ({ added }) => discovered.push(...added));
    // connect() read the membership once already; B is connecting or connected.
    expect(Object.keys(pool.pending).sort()).toEqual([a, b].sort());
    await expect.poll(() => pool!.healthy.sort(), { timeout: 15_000 }).toEqual([a, b].sort());

    // Safe requests (greet.hello names the node that served it) from 4 workers while A dies.
    const servedBy = new Map<string, number>();
    let killedAt = 0;
    let afterKill = 0;
    let failures = 0;
    let firstOnB = 0;
    const deadline = Date.now() + 60_000;
    const worker = async () => {
      while (Date.now() < deadline && (killedAt === 0 || afterKill < 200)) {
        try {
          const reply = await pool!.greet.hello(['x'], 'en');
          if (killedAt > 0) {
            afterKill++;
            if (firstOnB === 0 && reply.node === 'node-2') firstOnB = Date.now() - killedAt;
            servedBy.set(reply.node, (servedBy.get(reply.node) ?? 0) + 1);
          }
        } catch {
          failures++;
        }
      }
    };
    const workers = Promise.all(Array.from({ length: 4 }, worker));
    await new Promise((r) => setTimeout(r, 300));
    killedAt = Date.now();
    await cluster.nodes[0]!.stop('SIGKILL');
    await workers;
    console.log(
      `after kill -9 of the seed: ${afterKill} requests, served by ${JSON.stringify([...servedBy])}; first answer from B ${firstOnB} ms after the kill`,
    );
    expect(failures).toBe(0);
    expect(afterKill).toBeGreaterThanOrEqual(200);
    // Only B is left (node-1 answered nothing after it was killed, except requests it had already sent).
    expect(servedBy.get('node-2') ?? 0).toBeGreaterThanOrEqual(195);
    expect(pool.healthy).toEqual([b]);

    // A node that joins later is found at the next read of the membership and takes requests.
    const c = await cluster.add('node-3');
    const cEndpoint = `127.0.0.1:${c.port}`;
    await expect.poll(() => pool!.healthy.sort(), { timeout: 15_000 }).toEqual([b, cEndpoint].sort());
    expect(discovered).toEqual([cEndpoint]); // B was found inside connect(), before this listener
    const nodes = new Set<string>();
    for (let i = 0; i < 40 && nodes.size < 2; i++) {
      const replies = await Promise.all(Array.from({ length: 4 }, () => pool!.greet.hello(['y'], 'en')));
      for (const r of replies) nodes.add(r.node);
    }
    expect([...nodes].sort()).toEqual(['node-2', 'node-3']);

    // A discovered node that dies leaves the pool once it leaves the membership; the seed A stays (given).
    await c.stop('SIGKILL');
    await expect
      .poll(() => Object.keys(pool!.pending).sort(), { timeout: 20_000, interval: 200 })
      .toEqual([a, b].sort());
  });
});
