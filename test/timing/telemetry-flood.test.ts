import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { type ServerProcess, spawnServer } from '../helpers/node.js';
import { client } from '../helpers/telemetry.js';

/**
 * Acceptance (timing part): a flood from one sensor is refused with RATE_LIMITED while ten other sensors,
 * each sending 1,000 readings/s, keep their throughput and their acks stay quick.
 */

let server: ServerProcess;
const clients: NexoClient[] = [];

beforeAll(async () => {
  server = await spawnServer(['--sensor-rate', '2000', '--sensor-burst', '4000']);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await server?.stop();
});

/** One sensor sending `perSecond` readings a second in batches of 50 for `ms`; returns acked count and latencies. */
async function steady(c: NexoClient, sensor: string, perSecond: number, ms: number) {
  const latencies: number[] = [];
  let acked = 0;
  let errors = 0;
  const started = Date.now();
  let seq = 0;
  const pending: Promise<void>[] = [];
  for (let tick = 0; Date.now() - started < ms; tick++) {
    const due = started + (tick * 50 * 1000) / perSecond;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    const batch = Array.from({ length: 50 }, () => ({ metric: 't', value: 1, seq: seq++ }));
    pending.push(
      c.telemetry.reportBatch(sensor, batch).then(
        (a) => {
          acked += a.accepted;
          latencies.push(performance.now() - t0);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  const seconds = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: acked / seconds, errors, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

describe('a flooding sensor does not slow the others', () => {
  it('keeps ten sensors at 1,000 readings/s each with quick acks while one floods', async () => {
    for (let i = 0; i < 12; i++) clients.push(await client(server.port));
    const [flooder, ...others] = clients;
    const baseline = await Promise.all(others.slice(0, 10).map((c, i) => steady(c, `calm${i}`, 1000, 1500)));

    let floodAccepted = 0;
    let floodRefused = 0;
    let stop = false;
    let seq = 1_000_000;
    const floodLoops = Array.from({ length: 32 }, async () => {
      while (!stop) {
        const batch = Array.from({ length: 1000 }, () => ({ metric: 't', value: 1, seq: seq++ }));
        try {
          floodAccepted += (await flooder!.telemetry.reportBatch('flood', batch)).accepted;
        } catch (err) {
          expect((err as { code: string }).code).toBe('RATE_LIMITED');
          floodRefused++;
        }
      }
    });
    const during = await Promise.all(others.slice(0, 10).map((c, i) => steady(c, `busy${i}`, 1000, 2000)));
    stop = true;
    await Promise.all(floodLoops);

    const sum = (xs: { rate: number }[]) => xs.reduce((n, x) => n + x.rate, 0);
    const worstP99 = Math.max(...during.map((d) => d.p99));
    console.log(
      `others: ${Math.round(sum(baseline))}/s before, ${Math.round(sum(during))}/s during the flood (worst p99 ${worstP99.toFixed(1)} ms); flood: ${floodAccepted} accepted, ${floodRefused} refused`,
    );
    expect(during.every((d) => d.errors === 0)).toBe(true);
    expect(sum(during)).toBeGreaterThan(sum(baseline) * 0.9);
    expect(worstP99).toBeLessThan(500); // generous: 2 shared cores; typically 40-150 ms
    expect(floodRefused).toBeGreaterThan(100);
    // The flooder got its burst plus its rate over ~2 s, not more.
    expect(floodAccepted).toBeLessThanOrEqual(4000 + 2000 * 3);
  });
});
