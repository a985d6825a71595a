/**
 * Mixed client load for the multi-host cluster tests (hosts-kill, hosts-partition, rolling-restart), through
 * the client library: calc requests kept in flight, sensors reporting numbered readings on a period, and
 * the check that every acknowledged reading is stored in PostgreSQL exactly once. No vitest import (the
 * deploy rehearsal may reuse it). Every loop ends on `stop()` and every request has its own timeout.
 */
import pg from 'pg';
import { connectPool } from '../../src/client/index.js';
import type { NexoPool } from '../../src/client/pool.js';
import type { NexoError } from '../../src/errors.js';
import { until } from '../helpers/haproxy.js';

/** What the load needs of a client: a NexoPool or a NexoClient. */
export interface LoadClient {
  calc: { eval(expr: string, options?: { timeout?: number }): Promise<{ value: string }> };
  telemetry: {
    reportBatch(
      sensor: string,
      readings: { metric: string; value: number; seq: number; ts: number }[],
      meta?: undefined,
      options?: { timeout?: number },
    ): Promise<{ accepted: number; duplicates: number }>;
  };
}

export interface CalcLoad {
  readonly ok: number;
  readonly failed: number;
  /** Error codes (or messages) of the failed requests, in order. */
  readonly errors: string[];
  /** Successful requests since `t` (ms since 1970). */
  okSince(t: number): number;
  stop(): Promise<void>;
}

/**
 * A connectPool as the load uses it (fast backoff, `attempts` sends of a repeatable request, 20 s per
 * request), remembered in `keep` so the test destroys it afterwards.
 */
export async function openPool(endpoints: string[], keep: NexoPool[], attempts = 5): Promise<NexoPool> {
  const p = await connectPool({
    endpoints,
    backoff: { initialDelayMs: 50, maxDelayMs: 500 },
    attempts,
    requestTimeoutMs: 20_000,
  });
  keep.push(p);
  return p;
}

const errorOf = (err: unknown) => (err as NexoError).code ?? (err as Error).message;

/** `inFlight` loops, each evaluating `i*i` and checking the answer, until stop(). */
export function startCalcLoad(client: LoadClient, inFlight = 4, timeoutMs = 15_000): CalcLoad {
  let running = true;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const okAt: number[] = [];
  const loops = Array.from({ length: inFlight }, async (_, k) => {
    for (let i = k; running; i += inFlight) {
      try {
        const { value } = await client.calc.eval(`${i}*${i}`, { timeout: timeoutMs });
        if (value !== String(i * i)) throw new Error(`calc ${i}*${i} = ${value}`);
        ok++;
        if (okAt.length < 1_000_000) okAt.push(Date.now());
      } catch (err) {
        failed++;
        errors.push(errorOf(err));
        await new Promise((r) => setTimeout(r, 50));
      }
      // A little breathing room on a 2-core machine shared with the nodes.
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    get ok() {
      return ok;
    },
    get failed() {
      return failed;
    },
    errors,
    okSince: (t) => okAt.filter((x) => x >= t).length,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

export interface SensorLoad {
  /** Sensor names, `<prefix>-1..count`. */
  readonly names: string[];
  /** Acknowledged seqs of each sensor. */
  readonly acked: Map<string, Set<number>>;
  /** Every seq made (reported at least once), per sensor. */
  readonly made: Map<string, number>;
  /** Failed reportBatch calls (the readings stay pending and go again). */
  readonly failures: string[];
  /** Acknowledged readings since `t`. */
  ackedSince(t: number): number;
  /** Stops making readings, then sends what is pending until acked (at most `drainMs`). */
  stop(drainMs?: number): Promise<void>;
}

/**
 * `count` sensors, each making one reading (seq 1, 2, ...) every `everyMs` and reporting every pending one
 * in one batch (one request in flight per sensor): a batch that fails stays pending and is sent again with
 * the same seqs, so a resend of something a lost node had stored counts as duplicates only.
 */
export function startSensors(client: LoadClient, prefix: string, count = 10, everyMs = 100): SensorLoad {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
  const acked = new Map(names.map((n) => [n, new Set<number>()]));
  const made = new Map(names.map((n) => [n, 0]));
  const failures: string[] = [];
  const ackTimes: number[] = [];
  let making = true;
  let sending = true;
  const loops = names.map(async (name, k) => {
    const pending: { metric: string; value: number; seq: number; ts: number }[] = [];
    let next = Date.now() + (k * everyMs) / count;
    while (sending && (making || pending.length > 0)) {
      while (making && Date.now() >= next) {
        const seq = made.get(name)! + 1;
        made.set(name, seq);
        pending.push({ metric: 'temperature', value: 20 + (seq % 10), seq, ts: Date.now() });
        next += everyMs;
      }
      if (pending.length > 0) {
        const batch = pending.slice(0, 500);
        try {
          await client.telemetry.reportBatch(name, batch, undefined, { timeout: 10_000 });
          const set = acked.get(name)!;
          const now = Date.now();
          for (const r of batch) {
            set.add(r.seq);
            ackTimes.push(now);
          }
          pending.splice(0, batch.length);
        } catch (err) {
          failures.push(errorOf(err));
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(5, next - Date.now())));
    }
  });
  return {
    names,
    acked,
    made,
    failures,
    ackedSince: (t) => ackTimes.filter((x) => x >= t).length,
    async stop(drainMs = 30_000) {
      making = false;
      const timer = setTimeout(() => (sending = false), drainMs);
      await Promise.all(loops);
      clearTimeout(timer);
    },
  };
}

/**
 * The stored seqs of each sensor (from the nodes' shared PostgreSQL), and the problems with them: an acked
 * reading missing, a reading stored twice, or one stored that was never made. Empty problems: exactly once.
 */
export async function checkStored(
  postgresUrl: string,
  sensors: SensorLoad,
): Promise<{ stored: number; acked: number; problems: string[] }> {
  const db = new pg.Client({ connectionString: postgresUrl });
  await db.connect();
  const problems: string[] = [];
  let stored = 0;
  let ackedCount = 0;
  try {
    const { rows } = await db.query<{ name: string; seq: string; n: string }>(
      `SELECT s.name, r.seq::text AS seq, count(*)::text AS n FROM telemetry_readings r
       JOIN telemetry_sensors s ON s.id = r.sensor WHERE s.name = ANY($1) GROUP BY s.name, r.seq`,
      [sensors.names],
    );
    const seen = new Map<string, Set<number>>(sensors.names.map((n) => [n, new Set()]));
    for (const r of rows) {
      stored += Number(r.n);
      if (Number(r.n) !== 1) problems.push(`${r.name} seq ${r.seq} stored ${r.n} times`);
      seen.get(r.name)!.add(Number(r.seq));
      if (Number(r.seq) > sensors.made.get(r.name)!) problems.push(`${r.name} seq ${r.seq} never made`);
    }
    for (const [name, set] of sensors.acked) {
      ackedCount += set.size;
      const missing = [...set].filter((s) => !seen.get(name)!.has(s));
      if (missing.length > 0)
        problems.push(`${name}: acked but not stored: ${missing.slice(0, 10).join(',')}`);
    }
  } finally {
    await db.end();
  }
  return { stored, acked: ackedCount, problems };
}

/** `until` of helpers/haproxy.ts (polls every 100 ms, at most `ms`), with the time it took. */
export async function waitFor<T>(
  what: string,
  ms: number,
  f: () => Promise<T | undefined> | T | undefined,
): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  const value = await until(what, ms, async () => f());
  return { value, ms: Date.now() - start };
}
