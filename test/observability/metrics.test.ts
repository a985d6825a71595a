/**
 * GET /metrics (docs/http.md): Prometheus text that promtool accepts, values that move with traffic, a
 * bearer token when --metrics-token is set, and label sets that do not grow with the number of clients.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import type { NexoNode } from '../../src/node/node.js';
import { resolveOptions } from '../../src/options/options.js';
import { startNode } from '../helpers/node.js';
import { clientOver, httpPort, tcp } from '../helpers/transports.js';

const TOKEN = 'metrics-token-0123456789';
const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool) {
  if (process.env.CI === 'true') throw new Error('promtool (Debian package prometheus) is required under CI');
  console.log('skipping promtool checks: promtool not installed (Debian package prometheus)');
}

let node: NexoNode & { port: number };
let base: string;
beforeAll(async () => {
  node = await startNode({ http: { port: 0, metricsToken: TOKEN } });
  base = `http://127.0.0.1:${httpPort(node)}`;
});
afterAll(() => node.close({ timeoutMs: 2000 }));

async function scrape(): Promise<string> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series}`);
  return Number(line.slice(series.length + 1));
}

function seriesCount(text: string): number {
  return text.split('\n').filter((l) => l.startsWith('nexo_')).length;
}

describe('/metrics', () => {
  it('refuses a scrape without the token, or with a wrong one (401)', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const body = (await wrong.json()) as { error: { code: string } };
    expect(body.error.code).toBe('AUTH_FAILED');
  });

  it('rejects a metrics token that is too short or has spaces', () => {
    expect(() => resolveOptions({ http: { metricsToken: 'short' } })).toThrow(/metricsToken/);
    expect(() => resolveOptions({ http: { metricsToken: 'has a space in it ok?' } })).toThrow(/metricsToken/);
  });

  it('counts requests, frames and errors by code as clients work', async () => {
    const before = await scrape();
    const client: NexoClient = await clientOver(tcp, node);
    try {
      for (let i = 0; i < 20; i++) await client.request('echo', 'echo', i);
      await expect(client.request('nosuch', 'method', null)).rejects.toThrow();
      const after = await scrape();
      expect(
        value(after, 'nexo_requests_total') - value(before, 'nexo_requests_total'),
      ).toBeGreaterThanOrEqual(21);
      expect(value(after, 'nexo_frames_received_total')).toBeGreaterThan(
        value(before, 'nexo_frames_received_total') + 20,
      );
      expect(value(after, 'nexo_frames_sent_total')).toBeGreaterThan(
        value(before, 'nexo_frames_sent_total') + 20,
      );
      expect(after).toMatch(/^nexo_errors_total\{code="[A-Z_]+"\} [1-9]/m);
      expect(value(after, 'nexo_connections{transport="tcp",mode="binary",state="open"}')).toBe(1);
      expect(after).toMatch(/^process_cpu_seconds_total /m);
      expect(after).toMatch(/^nexo_event_loop_delay_p99_seconds /m);
    } finally {
      await client.close();
    }
  });

  it('keeps the same series however many clients came and went', async () => {
    const warm = await clientOver(tcp, node);
    await warm.request('echo', 'echo', 'warm');
    const first = seriesCount(await scrape());
    await warm.close();
    const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => clientOver(tcp, node, `c${i}`)));
    try {
      await Promise.all(clients.map((c, i) => c.request('echo', 'echo', i)));
      const during = await scrape();
      expect(seriesCount(during)).toBe(first);
      expect(value(during, 'nexo_connections{transport="tcp",mode="binary",state="open"}')).toBe(50);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it.skipIf(!promtool)('passes promtool check metrics', async () => {
    const text = await scrape();
    const check = (input: string) => spawnSync('promtool', ['check', 'metrics'], { input, encoding: 'utf8' });
    // The node's own families: no remark at all.
    const ours = text
      .split('\n')
      .filter((l) => /^(# (HELP|TYPE) )?nexo_/.test(l))
      .join('\n');
    expect(ours).toMatch(/nexo_requests_total/);
    const strict = check(`${ours}\n`);
    expect(strict.stderr + strict.stdout).toBe('');
    expect(strict.status).toBe(0);
    // The whole page parses; the only remarks are on prom-client's own default gauges named *_total
    // (nodejs_active_handles_total, …), which this project does not name.
    const all = check(text);
    const remarks = (all.stderr + all.stdout).split('\n').filter((l) => l.trim() !== '');
    for (const remark of remarks) expect(remark).toMatch(/^nodejs_active_\w+_total non-counter metrics/);
  });
});
