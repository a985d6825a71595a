/**
 * Issue #11 benchmark: failover through the client library alone (no load balancer). Three nodes with
 * `--storage postgres` (each its own process, `servers.js nexo-shared`) share one PostgreSQL schema and one
 * NATS prefix; a NexoPool over the three keeps 16 calc requests in flight. One node is killed with SIGKILL
 * (the one with the most requests open), and two times are taken from the kill:
 *
 *  - until the first request answered after it (any node: what a client waiting on a fresh request sees);
 *  - until the pool hears that the connection closed (its `down` event);
 *  - until every request that was open at the kill is answered: those on the dead node were lost with it and
 *    are sent again elsewhere (§14.2.2), so this is the failover of the requests the kill hit.
 *
 * Median of ROUNDS kills (a fresh node replaces the dead one between rounds). The ceiling, in the same run:
 * the time from SIGKILL of a plain TCP server process until a client socket to it reports the close (what
 * the operating system gives anyone), plus one calc round trip on a healthy node (what a repeat costs).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import pg from 'pg';
import { connectPool } from '../src/client/index.js';
import { fmt, type Spawned, spawnBenchServer, table } from './harness.js';

const ROUNDS = Number(process.env.BENCH_FAILOVER_ROUNDS ?? 5);
const IN_FLIGHT = 16;
const PG_URL = process.env.NEXO_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NEXO_BENCH_NATS ?? 'nats://127.0.0.1:4222';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** One kill under load: ms from SIGKILL to the first answer, and to the last answer of what was open. */
async function killOnce(
  nodes: Spawned[],
): Promise<{ first: number; open: number; down: number; victim: number }> {
  const endpoints = nodes.map((n) => `127.0.0.1:${n.port}`);
  const pool = await connectPool({ endpoints, requestTimeoutMs: 10_000 });
  for (let i = 0; i < 200 && pool.healthy.length < nodes.length; i++) await sleep(10);
  let stop = false;
  let killedAt = 0;
  let firstAfter = 0;
  let downAt = 0;
  pool.on('down', () => {
    if (killedAt !== 0 && downAt === 0) downAt = performance.now();
  });
  /** Requests open at the kill, settled when answered. */
  let openAtKill: Promise<unknown>[] = [];
  const open = new Set<Promise<unknown>>();
  let n = 0;
  const worker = async () => {
    while (!stop) {
      const request = pool.calc.eval(`${n++} + 1`);
      open.add(request);
      try {
        await request;
      } finally {
        open.delete(request);
      }
      if (killedAt !== 0 && firstAfter === 0) firstAfter = performance.now();
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, worker);
  await sleep(300); // warm, every connection busy
  const pending = pool.pending;
  const victim = endpoints.reduce(
    (a, b, i) => ((pending[b] ?? 0) > (pending[endpoints[a]!] ?? 0) ? i : a),
    0,
  );
  openAtKill = [...open];
  killedAt = performance.now();
  const killed = nodes[victim]!.stop();
  await Promise.all(openAtKill);
  const openDone = performance.now();
  stop = true;
  await Promise.all(workers);
  await killed;
  pool.destroy();
  return { first: firstAfter - killedAt, open: openDone - killedAt, down: downAt - killedAt, victim };
}

/** The ceiling: SIGKILL of a plain TCP server process until the client's socket closes. */
async function rawKill(): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer(c=>c.pipe(c)).listen(0,'127.0.0.1',()=>console.log(s.address().port))",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) =>
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))),
  );
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  const at = performance.now();
  child.kill('SIGKILL');
  return (await closed) - at;
}

/** One calc round trip on a healthy node (median of 50). */
async function roundTrip(port: number): Promise<number> {
  const pool = await connectPool({ endpoints: [`127.0.0.1:${port}`] });
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await pool.calc.eval(`${i} + 1`);
    times.push(performance.now() - t);
  }
  pool.destroy();
  return median(times);
}

function sleep(msecs: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msecs));
}

export async function benchFailover(): Promise<{ text: string }> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const schema = `nxbenchfo_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const cluster = `nxbenchfo${process.pid}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const start = () => spawnBenchServer('servers.js', ['nexo-shared', url.toString(), NATS_URL, cluster]);
  const nodes: Spawned[] = [];
  const rounds: { first: number; open: number; down: number }[] = [];
  const raw: number[] = [];
  let rtt = 0;
  try {
    nodes.push(await start()); // migrates the schema
    // Kept as each starts, so a failure of one still stops the other (finally).
    const more = await Promise.allSettled([start(), start()]);
    for (const m of more) if (m.status === 'fulfilled') nodes.push(m.value);
    for (const m of more) if (m.status === 'rejected') throw m.reason;
    rtt = await roundTrip(nodes[0]!.port);
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(await rawKill());
      const result = await killOnce(nodes);
      rounds.push(result);
      nodes[result.victim] = await start();
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
  const ceiling = median(raw) + rtt;
  const firsts = rounds.map((r) => r.first);
  const opens = rounds.map((r) => r.open);
  const downs = rounds.map((r) => r.down);
  const text = [
    `failover through the client library alone: 3 nodes (PostgreSQL + NATS), ${IN_FLIGHT} calc requests in flight, SIGKILL of the busiest node, median of ${ROUNDS}`,
    table(
      ['case', 'median', 'max', 'vs ceiling'],
      [
        ['ceiling: SIGKILL → socket closed (plain TCP server)', ms(median(raw)), ms(Math.max(...raw)), ''],
        ['ceiling: + one calc round trip on a healthy node', ms(ceiling), '', ''],
        ['nexo: SIGKILL → first request answered', ms(median(firsts)), ms(Math.max(...firsts)), ''],
        [
          'nexo: SIGKILL → the pool sees the connection closed',
          ms(median(downs)),
          ms(Math.max(...downs)),
          '',
        ],
        [
          'nexo: SIGKILL → every request open at the kill answered',
          ms(median(opens)),
          ms(Math.max(...opens)),
          `${(median(opens) / ceiling).toFixed(1)}x`,
        ],
      ],
    ),
    `target < 500 ms: ${median(opens) < 500 ? 'met' : 'NOT met'} (rounds: ${opens.map((x) => x.toFixed(1)).join(', ')} ms; round trip ${fmt.us(rtt * 1000)})`,
  ].join('\n');
  return { text };
}
