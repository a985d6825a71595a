import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatEvent,
  connect,
  connectPool,
  type LiveReading,
  type NexoClient,
  type NexoPool,
} from '../../src/client/index.js';
import { enginesMissing } from '../helpers/engines.js';
import { type SharedNodes, spawnSharedNodes } from '../helpers/shared-nodes.js';

const missing = await enginesMissing();

/**
 * Session recovery without sticky sessions (spec §14.4, §14.5), over three real node processes sharing
 * PostgreSQL and NATS. The node a client is on is frozen (SIGSTOP) while others keep talking, then killed
 * (SIGKILL): the client comes back through another node and gets what it missed, once and in order.
 */
describe.skipIf(missing)('session recovery after kill -9', { timeout: 90_000 }, () => {
  let cluster: SharedNodes | undefined;
  const closers: { destroy(): void }[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) c.destroy();
    await cluster?.close();
    cluster = undefined;
  });

  const keep = <T extends NexoPool | NexoClient>(c: T) => {
    closers.push(c);
    return c;
  };

  /** The endpoint of `pool` holding its one open call (the subscription). */
  const holder = (pool: NexoPool) => {
    const [endpoint] = Object.entries(pool.pending).find(([, n]) => n > 0) ?? [];
    if (endpoint === undefined) throw new Error('no open call');
    return endpoint;
  };

  it('a chat member whose node dies gets the messages it missed after reconnecting elsewhere', async () => {
    cluster = await spawnSharedNodes(3);
    const [e1, e2, e3] = cluster.endpoints as [string, string, string];
    const room = 'rescue';
    // Ana through a pool of nodes 1 and 2 (resume is on for pools); Bob on node 3.
    const anaPool = keep(await connectPool({ endpoints: [e1, e2] }));
    await expect.poll(() => anaPool.healthy.length).toBe(2);
    const ana: ChatEvent[] = [];
    const anaIn = await anaPool.chat.join(room, 'ana', (e) => ana.push(e));
    const anaNode = holder(anaPool);
    // Cleo through a single client whose first endpoint is Ana's node, with resume asked for.
    const cleoClient = keep(
      await connect({ endpoints: [anaNode, anaNode === e1 ? e2 : e1], reconnect: { initialDelayMs: 20 } }),
    );
    const cleo: ChatEvent[] = [];
    await cleoClient.chat.join(room, 'cleo', (e) => cleo.push(e), { resume: true });
    const bobClient = keep(await connect({ endpoints: [e3] }));
    const bob: ChatEvent[] = [];
    const bobIn = await bobClient.chat.join(room, 'bob', (e) => bob.push(e));

    const texts = (events: ChatEvent[]) =>
      events.flatMap((e) => (e.type === 'message' ? [`${e.seq} ${e.nick}: ${e.text}`] : []));
    await bobIn.say('before-1');
    await bobIn.say('before-2');
    await expect.poll(() => texts(ana)).toEqual(['1 bob: before-1', '2 bob: before-2']);
    await expect.poll(() => texts(cleo)).toEqual(['1 bob: before-1', '2 bob: before-2']);

    // Ana's node freezes: Ana and Cleo hear nothing of what Bob says now; then it is killed.
    const dead = cluster.nodes[cluster.endpoints.indexOf(anaNode)]!;
    dead.child.kill('SIGSTOP');
    for (let i = 1; i <= 5; i++) await bobIn.say(`during-${i}`);
    expect(texts(ana)).toHaveLength(2);
    dead.child.kill('SIGKILL');

    const expected = [
      '1 bob: before-1',
      '2 bob: before-2',
      ...Array.from({ length: 5 }, (_, i) => `${i + 3} bob: during-${i + 1}`),
    ];
    await expect.poll(() => texts(ana), { timeout: 15_000 }).toEqual(expected);
    await expect.poll(() => texts(cleo), { timeout: 15_000 }).toEqual(expected);
    const rejoined = ana.filter((e) => e.type === 'joined');
    expect(rejoined).toHaveLength(2);
    expect(rejoined[1]).toMatchObject({ nick: 'ana', after: 2, missed: 0, history: 5 });

    // Ana talks again, now through the other node; Bob hears her, and she hears herself once.
    const said = await anaIn.say('back');
    expect(said.seq).toBe(8);
    await expect.poll(() => texts(bob).at(-1)).toBe('8 ana: back');
    await expect.poll(() => texts(ana)).toEqual([...expected, '8 ana: back']);
    await expect.poll(() => texts(cleo)).toEqual([...expected, '8 ana: back']);
    expect(anaPool.healthy).toEqual([anaNode === e1 ? e2 : e1]);
    await anaIn.leave();
    await expect(anaIn.ended).resolves.toMatchObject({ left: true });
  });

  it('a telemetry watch continues from the last reading seen, each reading once', async () => {
    cluster = await spawnSharedNodes(3);
    const [e1, e2, e3] = cluster.endpoints as [string, string, string];
    const sensor = `resume-${Date.now()}`;
    const watcherPool = keep(await connectPool({ endpoints: [e1, e2] }));
    await expect.poll(() => watcherPool.healthy.length).toBe(2);
    const seen: LiveReading[] = [];
    const resumes: { replayed: number }[] = [];
    const watch = await watcherPool.telemetry.watch(
      { sensors: [sensor] },
      { onReading: (r) => seen.push(r), onResume: (info) => resumes.push(info) },
    );
    const watcherNode = holder(watcherPool);
    const reporter = keep(await connect({ endpoints: [e3] }));
    const report = async (from: number, to: number) => {
      for (let seq = from; seq <= to; seq++) {
        await reporter.telemetry.report(sensor, { metric: 't', value: seq / 10, seq, unit: '°C' });
      }
    };
    const seqs = () => seen.map((r) => r.seq);
    await report(1, 5);
    await expect.poll(seqs).toEqual([1, 2, 3, 4, 5]);

    const dead = cluster.nodes[cluster.endpoints.indexOf(watcherNode)]!;
    dead.child.kill('SIGSTOP');
    await report(6, 20);
    expect(seqs()).toHaveLength(5);
    dead.child.kill('SIGKILL');

    await expect.poll(seqs, { timeout: 15_000 }).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(resumes).toEqual([{ replayed: 15, truncated: false }]);
    expect(seen.at(-1)).toMatchObject({ sensor, metric: 't', value: 2, unit: '°C' });
    // Live again through the other node.
    await report(21, 23);
    await expect.poll(seqs).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    watch.stop();
    await expect(watch.done).resolves.toBeUndefined();
  });
});
