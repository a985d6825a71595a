/**
 * A real Prometheus (Debian's `prometheus`, 2.42 here) scrapes a node under load, with a generated config,
 * its own temporary storage and a free port; PromQL through its HTTP API shows the counters moving and the
 * latency histograms usable (histogram_quantile). Skipped with a reason when prometheus is absent, never
 * under CI=true.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import type { NexoNode } from '../../src/node/node.js';
import { freePort, startNode } from '../helpers/node.js';
import { program } from '../helpers/programs.js';
import { clientOver, httpPort, tcp } from '../helpers/transports.js';

const PROMETHEUS = program('prometheus', ['/usr/bin/prometheus']);
const TOKEN = 'scrape-token-0123456789abcdef';

let node: NexoNode & { port: number };
let prometheus: ChildProcess | undefined;
let api = '';
let dir = '';
let stderr = '';
let load: Promise<void> | undefined;
let stopLoad = false;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<Sample[]> {
  const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data?: { result: Sample[] }; error?: string };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data!.result;
}

/** Polls `promql` until `ok` holds for its result (bounded: 60 s). */
async function until(promql: string, ok: (r: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + 60_000;
  let last: Sample[] = [];
  while (Date.now() < deadline) {
    try {
      last = await query(promql);
      if (ok(last)) return last;
    } catch {
      // Prometheus is still starting.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${promql} never held; last ${JSON.stringify(last)}; prometheus said: ${stderr.slice(-2000)}`,
  );
}

const num = (r: Sample[]) => (r.length === 0 ? Number.NaN : Number(r[0]!.value[1]));

describe.skipIf(PROMETHEUS === undefined)('Prometheus scraping a node', () => {
  beforeAll(async () => {
    node = await startNode({ http: { port: 0, metricsToken: TOKEN } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-prometheus-'));
    const config = path.join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: nexo',
        `    authorization: { type: Bearer, credentials: ${TOKEN} }`,
        '    static_configs:',
        `      - targets: ['127.0.0.1:${httpPort(node)}']`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      PROMETHEUS!,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-20_000);
    });
    // Load while Prometheus scrapes: echo round trips and telemetry reports from two clients.
    const clients: NexoClient[] = [
      await clientOver(tcp, node, 'load-1'),
      await clientOver(tcp, node, 'load-2'),
    ];
    load = (async () => {
      let i = 0;
      const until = Date.now() + 120_000;
      while (!stopLoad && Date.now() < until) {
        await Promise.all([
          ...Array.from({ length: 32 }, (_, k) => clients[0]!.request('echo', 'echo', k)),
          clients[1]!.telemetry.report('p1', { metric: 'temperature', value: 20 + (i % 10) }),
        ]);
        i++;
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(clients.map((c) => c.close()));
    })();
  }, 60_000);

  afterAll(async () => {
    stopLoad = true;
    await load;
    if (prometheus !== undefined && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await new Promise((r) => prometheus!.once('exit', r));
    }
    await node?.close({ timeoutMs: 2000 });
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('finds the target up', { timeout: 90_000 }, async () => {
    const up = await until('up{job="nexo"}', (r) => num(r) === 1);
    expect(up[0]!.metric.instance).toBe(`127.0.0.1:${httpPort(node)}`);
  });

  it('sees the counters move between scrapes', { timeout: 90_000 }, async () => {
    const first = num(await until('nexo_requests_total{job="nexo"}', (r) => num(r) > 0));
    const later = await until('nexo_requests_total{job="nexo"}', (r) => num(r) > first);
    expect(num(later)).toBeGreaterThan(first);
    const rate = await until('rate(nexo_requests_total{job="nexo"}[5s])', (r) => num(r) > 0);
    expect(num(rate)).toBeGreaterThan(0);
    const ingest = await until('increase(nexo_telemetry_readings_ingested_total[10s])', (r) => num(r) > 0);
    expect(num(ingest)).toBeGreaterThan(0);
  });

  it('computes latency quantiles from the histograms', { timeout: 90_000 }, async () => {
    const p99 = await until(
      'histogram_quantile(0.99, sum by (le) (rate(nexo_request_duration_seconds_bucket{service="echo"}[5s])))',
      (r) => Number.isFinite(num(r)) && num(r) > 0,
    );
    expect(num(p99)).toBeLessThan(30);
    const ack = await until(
      'histogram_quantile(0.5, sum by (le) (rate(nexo_service_duration_seconds_bucket{service="telemetry",name="ack"}[10s])))',
      (r) => Number.isFinite(num(r)) && num(r) > 0,
    );
    expect(num(ack)).toBeLessThan(30);
  });
});
