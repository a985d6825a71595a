import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMBERSHIP, type Member } from '../../src/cluster/member.js';
import { openMembersBucket, readMembers } from '../../src/cluster/membership.js';
import { FrameType } from '../../src/protocol/constants.js';
import { unpackValue } from '../../src/protocol/payload.js';
import { builtinServices } from '../../src/services/index.js';
import { type Nats, openNats } from '../../src/storage/nats/connection.js';
import {
  createSchema,
  dropNatsCluster,
  dropSchema,
  enginesMissing,
  NATS_URL,
  pgUrlFor,
  uniqueName,
} from '../helpers/engines.js';
import { agentSays } from '../helpers/haproxy.js';
import { runCli, type ServerProcess, spawnServer, startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { slowService } from '../helpers/slow-service.js';

const missing = await enginesMissing();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The cluster membership (NATS KV with a TTL): real `nexo server` processes against the machine's PostgreSQL
 * and NATS, each with its own cluster prefix; `nexo cluster status` lists them; kill -9 takes one out within
 * the TTL; SIGTERM shows it draining (and the agent-check says drain) until it leaves.
 */
describe.skipIf(missing)('cluster membership', () => {
  const schema = uniqueName('nxcm');
  const cluster = uniqueName('nxcm');
  const nodes: ServerProcess[] = [];
  let nats: Nats;
  let kv: KV;
  let jsm: JetStreamManager;
  const members = () => readMembers(kv, jsm, cluster);

  const shared = [
    '--storage',
    'postgres',
    '--postgres',
    pgUrlFor(schema),
    '--nats',
    NATS_URL,
    '--cluster',
    cluster,
    '--agent-port',
    '0',
    '--http-port',
    '0',
    '--no-udp',
    '--workers',
    '1',
  ];

  beforeAll(async () => {
    await createSchema(schema);
    nats = await openNats([NATS_URL], { cluster });
    kv = await openMembersBucket(nats.kv, cluster);
    jsm = await nats.jsm();
  });
  afterAll(async () => {
    for (const n of nodes) if (n.child.exitCode === null) n.child.kill('SIGKILL');
    await nats?.close();
    await dropNatsCluster(cluster);
    await dropSchema(schema);
  });

  it('lists live nodes with address, ports, version, uptime, load and state; kill -9 removes one within 3 s', async () => {
    nodes.push(await spawnServer([...shared, '--node-id', 'm1']));
    nodes.push(await spawnServer([...shared, '--node-id', 'm2']));
    let live: Member[] = [];
    for (let i = 0; i < 50 && live.filter((m) => m.state === 'ready').length < 2; i++) {
      live = await members();
      await sleep(100);
    }
    expect(live.map((m) => [m.id, m.state])).toEqual([
      ['m1', 'ready'],
      ['m2', 'ready'],
    ]);
    const m1 = live[0]!;
    expect(m1).toMatchObject({ cluster, version: '0.1.0', host: '127.0.0.1', pid: nodes[0]!.child.pid });
    expect(m1.ports.tcp).toBe(nodes[0]!.port);
    expect(m1.ports.http).toBeGreaterThan(0);
    expect(m1.ports.agent).toBeGreaterThan(0);
    expect(m1.ports.udp).toBeUndefined();
    expect(m1.load).toEqual({
      connections: expect.any(Number),
      requestsPerSec: expect.any(Number),
      eventLoopDelayMs: expect.any(Number),
    });
    // The agent-check answers with a weight from the load.
    expect(await agentSays(m1.ports.agent!)).toMatch(/^up ready (100|[1-9][0-9]?)%\n$/);

    // The CLI, as an operator runs it.
    const json = await runCli(['cluster', 'status', '--json', '--nats', NATS_URL, '--cluster', cluster]);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as Member[]).map((m) => m.id)).toEqual(['m1', 'm2']);
    const table = await runCli(['cluster', 'status', '--nats', NATS_URL, '--cluster', cluster]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^NODE +STATE +ADDRESS/);
    expect(table.stdout).toMatch(new RegExp(`\\nm2 +ready +127\\.0\\.0\\.1:${nodes[1]!.port} `));
    expect(table.stdout).toContain(`2 live nodes in cluster '${cluster}'`);

    // kill -9: no goodbye; the entry expires.
    const killedAt = Date.now();
    nodes[1]!.child.kill('SIGKILL');
    let gone = -1;
    while (Date.now() - killedAt < 10_000) {
      if (!(await members()).some((m) => m.id === 'm2')) {
        gone = Date.now() - killedAt;
        break;
      }
      await sleep(50);
    }
    console.log(
      `membership: a kill -9'd node left after ${gone} ms (bound ${MEMBERSHIP.intervalMs + MEMBERSHIP.ttlMs} ms)`,
    );
    expect(gone).toBeGreaterThanOrEqual(0);
    // The bound is the TTL after its last beat (3 s); polling adds a little.
    expect(gone).toBeLessThan(MEMBERSHIP.intervalMs + MEMBERSHIP.ttlMs + 500);
    expect((await members()).map((m) => m.id)).toEqual(['m1']);
    // A node that stops writing is not brought back by the bucket's own (lazier) expiry either.
    await sleep(MEMBERSHIP.ttlMs);
    expect((await members()).map((m) => m.id)).toEqual(['m1']);
  }, 120_000);

  it('a draining node shows draining and the agent says drain, then it leaves at once', async () => {
    const node = await startNode(
      {
        nodeId: 'm3',
        storage: 'postgres',
        postgres: pgUrlFor(schema),
        nats: NATS_URL,
        cluster,
        agent: { port: 0 },
      },
      { services: [...builtinServices(), slowService] },
    );
    const agent = node.agentAddress()!.port;
    expect((await members()).find((m) => m.id === 'm3')?.state).toBe('ready');
    expect(await agentSays(agent)).toMatch(/^up ready \d+%\n$/);
    const peer = await RawPeer.open(node.port);
    const slow = peer.request('slow', 'sleep', { ms: 1500 });
    await sleep(50);
    const closed = node.close({ timeoutMs: 5000 });
    expect(await agentSays(agent)).toBe('drain\n');
    // Announced at once, not at the next beat.
    await sleep(100);
    expect((await members()).find((m) => m.id === 'm3')?.state).toBe('draining');
    expect((await peer.reply(slow)).value).toEqual({ slept: 1500 });
    await closed;
    expect((await members()).some((m) => m.id === 'm3')).toBe(false);
    await expect(agentSays(agent)).rejects.toThrow();
  }, 30_000);

  it('a node that shuts down sends GOAWAY with a reconnect hint naming the other live nodes (§7.3.5)', async () => {
    const shared = { storage: 'postgres' as const, postgres: pgUrlFor(schema), nats: NATS_URL, cluster };
    const a = await startNode({ ...shared, nodeId: 'g1' });
    const b = await startNode({ ...shared, nodeId: 'g2' });
    try {
      const peer = await RawPeer.open(a.port);
      await a.close({ timeoutMs: 2000 });
      const frames = await peer.closedByServer(5000);
      const goAway = frames.find((f) => f.type === FrameType.GOAWAY);
      expect(goAway).toBeDefined();
      const payload = unpackValue(goAway!.payload!) as Record<string, unknown>;
      expect(payload).toMatchObject({ code: 'SHUTTING_DOWN', reconnectMs: 0 });
      expect(payload.alternates).toContain(`127.0.0.1:${b.port}`);
      expect(payload.alternates).not.toContain(`127.0.0.1:${a.port}`);
    } finally {
      await a.close();
      await b.close({ timeoutMs: 500 });
    }
  }, 60_000);
});
