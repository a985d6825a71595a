/**
 * Issue #13 benchmark: what metrics cost. The same lean load (bench/protocol.ts: pre-encoded REQUEST frames,
 * replies checked byte for byte) against two nodes in child processes, one with metrics on (every request
 * timed into its method's histogram) and /metrics scraped every second during the measurement, one with
 * `--no-metrics`: echo and calc at 64 in flight on one connection and 16 connections x 16, and telemetry
 * single-reading reports at 64 in flight (each ack durable). The ratio on/off is what metrics cost.
 */
import { fmt, type LoadResult, spawnBenchServer, table } from './harness.js';
import { nexoLeanLoad, SHAPES } from './protocol.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PAYLOAD = 'hello, nexo bench';

interface Case {
  name: string;
  shape: (typeof SHAPES)[number];
  request: unknown[];
  expected: unknown;
}

const CASES: Case[] = [
  { name: 'echo', shape: SHAPES[1]!, request: ['echo', 'echo', PAYLOAD], expected: PAYLOAD },
  { name: 'echo', shape: SHAPES[2]!, request: ['echo', 'echo', PAYLOAD], expected: PAYLOAD },
  {
    name: 'calc 2*(3+4)',
    shape: SHAPES[1]!,
    request: ['calc', 'eval', { expr: '2*(3+4)' }],
    expected: { value: '14' },
  },
  {
    name: 'calc 2*(3+4)',
    shape: SHAPES[2]!,
    request: ['calc', 'eval', { expr: '2*(3+4)' }],
    expected: { value: '14' },
  },
  {
    name: 'telemetry.report',
    shape: SHAPES[1]!,
    request: ['telemetry', 'report', { sensor: 'bench-1', metric: 'temperature', value: 21.5 }],
    expected: { accepted: 1, duplicates: 0 },
  },
];

const best = (a: LoadResult | undefined, b: LoadResult) => (a === undefined || b.rate > a.rate ? b : a);

/** Scrapes `url` every second until stopped; returns how many scrapes succeeded and their mean time. */
function scraper(url: string): { stop(): Promise<{ scrapes: number; ms: number }> } {
  let stopped = false;
  let scrapes = 0;
  let total = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const res = await fetch(url);
      const text = await res.text();
      if (res.status !== 200 || !text.includes('nexo_requests_total')) {
        throw new Error(`scrape of ${url} answered ${res.status}`);
      }
      total += performance.now() - started;
      scrapes++;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  loop.catch(() => {}); // reported by stop()
  return {
    async stop() {
      stopped = true;
      await loop;
      return { scrapes, ms: scrapes === 0 ? 0 : total / scrapes };
    },
  };
}

export async function benchMetrics(): Promise<{ text: string }> {
  const on = await spawnBenchServer('servers.js', ['nexo-metrics', 'on']);
  const off = await spawnBenchServer('servers.js', ['nexo-metrics', 'off']);
  const rows: string[][] = [];
  const scraping = scraper(`http://127.0.0.1:${on.httpPort}/metrics`);
  try {
    for (const c of CASES) {
      let withMetrics: LoadResult | undefined;
      let without: LoadResult | undefined;
      // Interleaved rounds, the best of each counting: both nodes get the machine's same swings.
      for (let round = 0; round < ROUNDS; round++) {
        without = best(without, await nexoLeanLoad(off.port, c.shape, c.request, c.expected));
        withMetrics = best(withMetrics, await nexoLeanLoad(on.port, c.shape, c.request, c.expected));
      }
      rows.push([
        c.name,
        c.shape.name,
        fmt.rate(without!.rate),
        fmt.rate(withMetrics!.rate),
        fmt.pct(withMetrics!.rate / without!.rate),
        `${fmt.us(without!.p50)} / ${fmt.us(withMetrics!.p50)}`,
        `${fmt.us(without!.p99)} / ${fmt.us(withMetrics!.p99)}`,
      ]);
    }
  } finally {
    const scraped = await scraping.stop().catch((err: Error) => ({ scrapes: -1, ms: 0, err }));
    await on.stop();
    await off.stop();
    rows.push([
      `/metrics scraped ${scraped.scrapes} times, ${scraped.ms.toFixed(1)} ms each`,
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  return {
    text: `best of ${ROUNDS} interleaved rounds per case; on: every request timed and /metrics scraped every second\n${table(
      ['case', 'shape', 'off /s', 'on /s', 'on/off', 'p50 off/on', 'p99 off/on'],
      rows,
    )}`,
  };
}
