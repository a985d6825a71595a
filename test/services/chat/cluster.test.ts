import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../../src/node/node.js';
import {
  createSchema,
  dropSchema,
  enginesMissing,
  NATS_URL,
  pgUrlFor,
  uniqueName,
} from '../../helpers/engines.js';
import { startNode } from '../../helpers/node.js';
import { eventsOf, member, type TestMember } from './helpers.js';

const missing = await enginesMissing();

/**
 * Two nodes in this process (their own ports and data directories) sharing one PostgreSQL schema and one
 * NATS cluster prefix: a room spans both.
 */
describe.skipIf(missing)('chat across two nodes sharing PostgreSQL and NATS', () => {
  const schema = uniqueName('nxchat');
  const cluster = uniqueName('nxchat');
  let a: NexoNode & { port: number };
  let b: NexoNode & { port: number };
  const members: TestMember[] = [];

  const shared = (nodeId: string) => ({
    nodeId,
    storage: 'postgres' as const,
    postgres: pgUrlFor(schema),
    nats: NATS_URL,
    cluster,
    chat: { rate: 10_000, history: 50 },
  });

  beforeAll(async () => {
    await createSchema(schema);
    // Started at once: the chat migrations run once under the advisory lock.
    [a, b] = await Promise.all([startNode(shared('node-a')), startNode(shared('node-b'))]);
  });
  afterAll(async () => {
    for (const m of members) m.close();
    await Promise.all([a?.close({ timeoutMs: 1000 }), b?.close({ timeoutMs: 1000 })]);
    await dropSchema(schema);
  });

  const join = async (node: NexoNode & { port: number }, room: string, nick: string) => {
    const m = await member(node, room, nick);
    members.push(m);
    return m;
  };

  it('a member on A receives a message sent on B, in one order on both nodes', async () => {
    const ana = await join(a, 'spans', 'ana');
    const bob = await join(b, 'spans', 'bob');
    // Ana hears of Bob's join on the other node.
    await expect.poll(() => eventsOf(ana.events, 'join').map((e) => e.nick)).toContain('bob');
    const reply = await bob.membership.say('hello from B');
    expect(reply.seq).toBe(1);
    await expect.poll(() => ana.said()).toEqual(['bob: hello from B']);
    // Both talk at once, on different nodes: the store numbers them, everyone sees the same order.
    const n = 30;
    await Promise.all([
      (async () => {
        for (let i = 0; i < n; i++) await ana.membership.say(`a${i}`);
      })(),
      (async () => {
        for (let i = 0; i < n; i++) await bob.membership.say(`b${i}`);
      })(),
    ]);
    await expect.poll(() => ana.said().length).toBe(2 * n + 1);
    await expect.poll(() => bob.said().length).toBe(2 * n + 1);
    expect(ana.said()).toEqual(bob.said());
    const seqs = eventsOf(ana.events, 'message').map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 2 * n + 1 }, (_, i) => i + 1));
    expect(eventsOf(bob.events, 'message').map((e) => e.seq)).toEqual(seqs);
  });

  it('a member who joins on B gets the same history as one who joins on A', async () => {
    const writer = await join(a, 'past', 'writer');
    for (let i = 1; i <= 12; i++) await writer.membership.say(`m${i}`);
    // Joined fresh on each node (room not loaded on B until now).
    const onA = await join(a, 'past', 'reader-a');
    const onB = await join(b, 'past', 'reader-b');
    const historyOf = (m: TestMember) =>
      eventsOf(m.events, 'message')
        .filter((e) => e.history === true)
        .map((e) => `${e.seq} ${e.nick}: ${e.text}`);
    await expect.poll(() => historyOf(onB).length).toBe(12);
    expect(historyOf(onB)).toEqual(historyOf(onA));
    // And the history method says the same through either node.
    const viaA = await onA.client.request('chat', 'history', { room: 'past' });
    const viaB = await onB.client.request('chat', 'history', { room: 'past' });
    expect(viaB).toEqual(viaA);
    expect((viaB as { messages: unknown[] }).messages).toHaveLength(12);
  });

  it('leave notices cross nodes; chat.rooms lists the room on both', async () => {
    const stay = await join(a, 'notices', 'stay');
    const go = await join(b, 'notices', 'go');
    await expect.poll(() => eventsOf(stay.events, 'join').map((e) => e.nick)).toContain('go');
    await go.membership.leave();
    await expect
      .poll(() => eventsOf(stay.events, 'leave').map((e) => `${e.nick} ${e.reason}`))
      .toContain('go left');
    await stay.membership.say('still here');
    const roomsA = (await stay.client.request('chat', 'rooms', null)) as { rooms: { room: string }[] };
    const roomsB = (await go.client.request('chat', 'rooms', null)) as { rooms: { room: string }[] };
    expect(roomsA.rooms.map((r) => r.room)).toContain('notices');
    expect(roomsB.rooms.map((r) => r.room)).toContain('notices');
  });
});
