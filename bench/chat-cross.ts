/**
 * Issue #14 benchmark: chat delivery latency across nodes. Two nodes with `--storage postgres` (each in its
 * own process, `servers.js nexo-shared`) share one PostgreSQL schema and one NATS cluster prefix. A sender
 * on node A and two members of the room, one on A and one on B, all through the client library in this
 * process; one message at a time (closed loop, no queueing), each timed from `chat.say` to its EVENT at
 * each member, so the same-node and the cross-node figure come from the same messages.
 *
 * The ceilings, measured in the same run with each engine's own client: what a chat message must do at
 * least: the history's append (the store's own statement, one round trip, autocommit) for the same node;
 * that append followed by a NATS publish received on a second connection for another node.
 * Cases run in interleaved rounds so that ceilings and nexo meet the same swings of a shared machine.
 */
import { connect as natsConnect } from '@nats-io/transport-node';
import pg from 'pg';
import { connect } from '../src/client/index.js';
import { APPEND } from '../src/services/chat/postgres/history.js';
import type { ChatEvent } from '../src/wire/chat.js';
import { fmt, histogram, spawnBenchServer, table } from './harness.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_CHAT_ROUNDS ?? 2);
const PG_URL = process.env.NEXO_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NEXO_BENCH_NATS ?? 'nats://127.0.0.1:4222';
const WARMUP_MS = 300;

type Histogram = ReturnType<typeof histogram>;

/** Runs `one` (one timed message) back to back for SECONDS after a warm-up; `one` records when told to. */
async function closedLoop(one: (record: boolean) => Promise<void>): Promise<number> {
  const warmupEnd = performance.now() + WARMUP_MS;
  const end = warmupEnd + SECONDS * 1000;
  let count = 0;
  for (let now = performance.now(); now < end; now = performance.now()) {
    const record = now >= warmupEnd;
    await one(record);
    if (record) count++;
  }
  return count;
}

const us = (ms: number) => Math.max(1, Math.round(ms * 1000));

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}
function deferred(): Deferred {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The ceilings: the append alone, and the append then a NATS hop to another connection. */
async function rawCase(url: string, h: { append: Histogram; hop: Histogram }): Promise<number> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const pub = await natsConnect({ servers: NATS_URL });
  const sub = await natsConnect({ servers: NATS_URL });
  const subject = `benchraw${process.pid}.chat.room`;
  let waiting: Deferred | undefined;
  sub.subscribe(subject, { callback: () => waiting?.resolve() });
  await sub.flush();
  const payload = new TextEncoder().encode(JSON.stringify({ nick: 'tx', text: 'hello from the ceiling' }));
  try {
    return await closedLoop(async (record) => {
      const started = performance.now();
      await db.query(APPEND, ['raw', Date.now(), 'tx', 'hello from the ceiling']);
      const appended = performance.now();
      waiting = deferred();
      pub.publish(subject, payload);
      await waiting.promise;
      if (record) {
        h.append.recordValue(us(appended - started));
        h.hop.recordValue(us(performance.now() - started));
      }
    });
  } finally {
    await Promise.all([pub.close(), sub.close(), db.end()]);
  }
}

/** nexo: `chat.say` on A, the EVENT at a member on A and at a member on B. */
async function nexoCase(
  portA: number,
  portB: number,
  h: { ack: Histogram; same: Histogram; cross: Histogram },
): Promise<number> {
  const sender = await connect({ endpoints: [`127.0.0.1:${portA}`] });
  const onA = await connect({ endpoints: [`127.0.0.1:${portA}`] });
  const onB = await connect({ endpoints: [`127.0.0.1:${portB}`] });
  const expected = { text: '', a: deferred(), b: deferred() };
  const on = (which: 'a' | 'b') => (e: ChatEvent) => {
    if (e.type === 'message' && e.text === expected.text) expected[which].resolve();
  };
  const room = 'bench';
  const membership = await sender.chat.join(room, 'tx', () => {}, { history: 0 });
  const memberA = await onA.chat.join(room, 'rxa', on('a'), { history: 0 });
  const memberB = await onB.chat.join(room, 'rxb', on('b'), { history: 0 });
  let n = 0;
  const delivered = (d: Deferred, what: string) =>
    Promise.race([
      d.promise,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`chat bench: ${what} not delivered within 10 s`)), 10_000).unref(),
      ),
    ]);
  try {
    // B hears the room once its NATS subscription is in place: wait for that before timing anything.
    for (let probe = 0; ; probe++) {
      expected.text = `probe${probe}`;
      expected.b = deferred();
      await membership.say(expected.text);
      const heard = await Promise.race([
        expected.b.promise.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 200)),
      ]);
      if (heard) break;
      if (probe === 50) throw new Error('chat bench: the member on B never heard the room');
    }
    return await closedLoop(async (record) => {
      expected.text = `m${n++}`;
      expected.a = deferred();
      expected.b = deferred();
      const started = performance.now();
      let sameAt = 0;
      let crossAt = 0;
      const a = delivered(expected.a, 'same-node').then(() => (sameAt = performance.now()));
      const b = delivered(expected.b, 'cross-node').then(() => (crossAt = performance.now()));
      await membership.say(expected.text);
      const acked = performance.now();
      await Promise.all([a, b]);
      if (record) {
        h.ack.recordValue(us(acked - started));
        h.same.recordValue(us(sameAt - started));
        h.cross.recordValue(us(crossAt - started));
      }
    });
  } finally {
    await Promise.all([memberA.leave(), memberB.leave(), membership.leave()]);
    await Promise.all([sender.close(), onA.close(), onB.close()]);
  }
}

export async function benchChatCross(): Promise<{ text: string }> {
  const schema = `nxbenchchat_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const cluster = `benchchat${process.pid}`;
  const h = {
    append: histogram(),
    hop: histogram(),
    ack: histogram(),
    same: histogram(),
    cross: histogram(),
  };
  let rawCount = 0;
  let nexoCount = 0;
  // Node A migrates the schema; B then finds it done. The ceiling writes into the same tables.
  const a = await spawnBenchServer('servers.js', ['nexo-shared', url.toString(), NATS_URL, cluster]);
  const b = await spawnBenchServer('servers.js', ['nexo-shared', url.toString(), NATS_URL, cluster]);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      rawCount += await rawCase(url.toString(), h);
      nexoCount += await nexoCase(a.port, b.port, h);
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
  const p = (x: Histogram, q: number) => x.getValueAtPercentile(q);
  const row = (name: string, x: Histogram, ceiling: Histogram | undefined) => [
    name,
    fmt.us(p(x, 50)),
    fmt.us(p(x, 99)),
    ceiling === undefined ? '' : `${(p(x, 50) / p(ceiling, 50)).toFixed(1)}x`,
    ceiling === undefined ? '' : `${(p(x, 99) / p(ceiling, 99)).toFixed(1)}x`,
  ];
  const text = [
    `chat delivery latency, one message at a time, ${ROUNDS} rounds of ${SECONDS}s per case (${nexoCount} nexo messages, ${rawCount} raw)`,
    table(
      ['case', 'p50', 'p99', 'p50 vs ceiling', 'p99 vs ceiling'],
      [
        row('raw PostgreSQL: the history append (same-node ceiling)', h.append, undefined),
        row('raw PostgreSQL append + NATS hop (cross-node ceiling)', h.hop, undefined),
        row('nexo chat.say on A: acknowledged', h.ack, h.append),
        row('nexo chat.say on A → member on A (same node)', h.same, h.append),
        row('nexo chat.say on A → member on B (cross node)', h.cross, h.hop),
      ],
    ),
    `cross-node / same-node: p50 ${(p(h.cross, 50) / p(h.same, 50)).toFixed(2)}x, p99 ${(p(h.cross, 99) / p(h.same, 99)).toFixed(2)}x`,
  ].join('\n');
  return { text };
}
