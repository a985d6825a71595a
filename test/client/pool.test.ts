import { afterEach, describe, expect, it } from 'vitest';
import { connectPool, type NexoPool } from '../../src/client/index.js';
import { NexoError } from '../../src/errors.js';
import { enginesMissing } from '../helpers/engines.js';
import { type SharedNodes, spawnSharedNodes } from '../helpers/shared-nodes.js';

const missing = await enginesMissing();

/**
 * The client library alone (no load balancer) over three real node processes sharing PostgreSQL and NATS:
 * least-pending spread, failover when one is killed with SIGKILL, repeats only of what is safe (§14.2).
 */
describe.skipIf(missing)('NexoPool over three nodes', { timeout: 90_000 }, () => {
  let cluster: SharedNodes | undefined;
  let pool: NexoPool | undefined;
  afterEach(async () => {
    pool?.destroy();
    pool = undefined;
    await cluster?.close();
    cluster = undefined;
  });

  const start = async () => {
    const began = Date.now();
    cluster = await spawnSharedNodes(3);
    console.log(`three nodes up in ${Date.now() - began} ms`);
    pool = await connectPool({ endpoints: cluster.endpoints, requestTimeoutMs: 15_000 });
    await expect.poll(() => pool!.healthy.length, { timeout: 10_000 }).toBe(3);
    return { cluster, pool };
  };

  it('spreads requests over every node and loses no idempotent request when one is killed', async () => {
    const { cluster, pool } = await start();
    const servedBy = new Map<string, number>();
    const retries: string[] = [];
    pool.on('retry', (r) => retries.push(`${r.service}.${r.method} ${r.error.code}`));
    const sensor = `pool-${Date.now()}`;
    let seq = 0;
    let killed = false;
    let afterKill = 0;
    const total = 600;
    let done = 0;
    const worker = async () => {
      while (done < total) {
        const i = done++;
        if (i % 3 === 0) {
          const reply = await pool.greet.hello([`n${i}`], 'en');
          servedBy.set(reply.node, (servedBy.get(reply.node) ?? 0) + 1);
        } else if (i % 3 === 1) {
          expect((await pool.calc.eval(`${i} * 2`)).value).toBe(String(i * 2));
        } else {
          const ack = await pool.telemetry.report(sensor, { metric: 'm', value: i, seq: ++seq });
          expect(ack.accepted + ack.duplicates).toBe(1);
        }
        if (killed) afterKill++;
        if (i === 200) {
          // kill -9 the node with the most requests open right now: some are lost with it.
          const pending = pool.pending;
          const busiest = cluster.endpoints.reduce((a, b) => ((pending[b] ?? 0) > (pending[a] ?? 0) ? b : a));
          cluster.nodes[cluster.endpoints.indexOf(busiest)]!.child.kill('SIGKILL');
          killed = true;
        }
      }
    };
    const began = Date.now();
    await Promise.all(Array.from({ length: 16 }, worker));
    console.log(`${total} requests in ${Date.now() - began} ms`);
    expect(killed).toBe(true);
    expect(afterKill).toBeGreaterThan(300);
    // Least pending gave every node a share before the kill.
    expect([...servedBy.keys()].sort()).toEqual(['node-1', 'node-2', 'node-3']);
    for (const n of servedBy.values()) expect(n).toBeGreaterThan(5);
    expect(pool.healthy).toHaveLength(2);
    // Every acked reading is stored exactly once, whichever node stored it or how often it was sent.
    const page = await pool.telemetry.readings({ sensor, metric: 'm', limit: 10_000 });
    const stored = page.readings.map((r) => r.seq!).sort((x, y) => x - y);
    expect(stored).toEqual(Array.from({ length: seq }, (_, k) => k + 1));
    console.log(
      `pool failover: ${retries.length} requests repeated after the kill (${retries[0] ?? 'none'})`,
    );
  });

  it('never repeats a request that is not safe to repeat: it fails with OUTCOME_UNKNOWN', async () => {
    const { cluster, pool } = await start();
    // Freeze one node: what is sent to it waits unanswered (and unprocessed), then it is killed.
    const frozen = cluster.nodes[0]!;
    frozen.child.kill('SIGSTOP');
    const rules = Array.from({ length: 6 }, (_, i) =>
      pool.telemetry.addAlert(`m${i} > 1000`, { name: `unsafe-${i}` }).then(
        () => 'ok',
        (err: NexoError) => err,
      ),
    );
    const queries = Array.from({ length: 6 }, () => pool.greet.languages().then(() => 'ok'));
    // Least pending put two of each on the frozen node.
    await expect.poll(() => pool.pending[cluster.endpoints[0]!]).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 200));
    frozen.child.kill('SIGKILL');
    const outcomes = await Promise.all(rules);
    const unknown = outcomes.filter((o): o is NexoError => o instanceof NexoError);
    expect(unknown.length).toBeGreaterThan(0);
    for (const e of unknown) {
      expect(e.code).toBe('OUTCOME_UNKNOWN');
      expect(e.message).toMatch(/telemetry\.addAlert .* not safe to repeat/);
      expect(e.details).toMatchObject({ endpoint: cluster.endpoints[0], cause: 'CONNECTION_LOST' });
    }
    // The safe ones on the frozen node went again elsewhere.
    expect(await Promise.all(queries)).toEqual(Array(6).fill('ok'));
    // Nothing was repeated: the rules stored are exactly the ones acknowledged.
    const stored = (await pool.telemetry.alerts()).rules.filter((r) => r.name.startsWith('unsafe-'));
    expect(stored).toHaveLength(outcomes.filter((o) => o === 'ok').length);
  });

  it('a request waits for a node while none is up, within its own timeout', async () => {
    const { cluster, pool } = await start();
    for (const node of cluster.nodes) node.child.kill('SIGKILL');
    await expect.poll(() => pool.healthy.length).toBe(0);
    const began = Date.now();
    const error = await pool.calc.eval('1+1', { timeout: 300 }).catch((e: NexoError) => e);
    expect(error).toBeInstanceOf(NexoError);
    expect((error as NexoError).code).toBe('TIMEOUT');
    expect((error as NexoError).message).toMatch(/healthy now: none/);
    expect(Date.now() - began).toBeLessThan(5000);
    // A node that comes back on its address takes requests again: the pool kept trying it with backoff.
    await cluster.add('node-4', cluster.nodes[0]!.port);
    await expect.poll(() => pool.healthy, { timeout: 15_000 }).toEqual([cluster.endpoints[0]]);
    expect((await pool.calc.eval('2+2')).value).toBe('4');
    // The caller's request id travels with the pool's sends (§6.1.4).
    await expect(pool.calc.eval('1/0', { requestId: 'pool-rid-1' })).rejects.toMatchObject({
      code: 'CALC_DIVISION_BY_ZERO',
      details: { requestId: 'pool-rid-1' },
    });
  });
});
