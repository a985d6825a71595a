/**
 * The latency histograms and per-service figures of /metrics: request duration by service and method,
 * telemetry's report-to-durable-ack time, store and bus timings, file bytes and uploads, chat fan-out,
 * connections by state; and no label set that grows with the number of sensors (10,000 of them).
 */
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { startNode } from '../helpers/node.js';
import { clientOver, tcp } from '../helpers/transports.js';

let node: NexoNode & { port: number };
beforeAll(async () => {
  node = await startNode({ telemetry: { rate: 1000, burst: 1000 } });
});
afterAll(() => node.close({ timeoutMs: 2000 }));

const scrape = () => node.metrics.text();

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series}`);
  return Number(line.slice(series.length + 1));
}

/** Series lines of the node's own families (not the process metrics, whose values come and go). */
function nexoSeries(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('nexo_'))
    .map((l) => l.slice(0, l.lastIndexOf(' ')));
}

describe('/metrics histograms', () => {
  it('times requests by service and method, buckets cumulative and ending in the count', async () => {
    const client = await clientOver(tcp, node);
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => client.request('echo', 'echo', i)));
      for (let i = 0; i < 20; i++) await client.request('calc', 'eval', { expr: `${i}*2` });
      const text = await scrape();
      const count = value(text, 'nexo_request_duration_seconds_count{service="echo",method="echo"}');
      expect(count).toBeGreaterThanOrEqual(200);
      expect(value(text, 'nexo_request_duration_seconds_count{service="calc",method="eval"}')).toBe(20);
      const buckets = text
        .split('\n')
        .filter((l) => l.startsWith('nexo_request_duration_seconds_bucket{service="echo",method="echo"'))
        .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
      expect(buckets.length).toBeGreaterThan(10);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1]!);
      expect(buckets.at(-1)).toBe(count);
      expect(text).toMatch(
        /^nexo_request_duration_seconds_bucket\{service="echo",method="echo",le="\+Inf"\} \d+$/m,
      );
      const sum = value(text, 'nexo_request_duration_seconds_sum{service="echo",method="echo"}');
      expect(sum).toBeGreaterThan(0);
      expect(sum / count).toBeLessThan(5); // seconds, not milliseconds
      // A method never called adds no series.
      expect(text).not.toMatch(/method="rm"/);
      expect(value(text, 'nexo_connections{transport="tcp",mode="binary",state="open"}')).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('times telemetry from report to durable ack, and the SQLite commit it waits for', async () => {
    const client = await clientOver(tcp, node);
    try {
      for (let i = 0; i < 5; i++)
        await client.telemetry.report('h1', { metric: 'temperature', value: 20 + i });
      const text = await scrape();
      expect(
        value(text, 'nexo_service_duration_seconds_count{service="telemetry",name="ack"}'),
      ).toBeGreaterThanOrEqual(5);
      expect(
        value(text, 'nexo_store_duration_seconds_count{engine="sqlite",op="telemetry.commit"}'),
      ).toBeGreaterThanOrEqual(1);
      // A durable ack is never faster than the commit it waited for.
      const ack = value(text, 'nexo_service_duration_seconds_sum{service="telemetry",name="ack"}');
      const commit = value(text, 'nexo_store_duration_seconds_sum{engine="sqlite",op="telemetry.commit"}');
      expect(ack).toBeGreaterThan(0);
      expect(commit).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('counts file bytes in and out, and chat fan-out to every member', async () => {
    const a = await clientOver(tcp, node, 'a');
    const b = await clientOver(tcp, node, 'b');
    try {
      const before = await scrape();
      const bytes = Buffer.alloc(300_000, 7);
      const entry = await a.files.upload(Readable.from([bytes]), { name: 'm.bin', size: bytes.length });
      const sink = new PassThrough();
      sink.resume();
      await a.files.download(entry.id, sink);
      const roomA = await a.chat.join('metrics-room', 'ana', () => {});
      const seen: unknown[] = [];
      const roomB = await b.chat.join('metrics-room', 'bob', (e) => seen.push(e));
      await roomA.say('hello');
      for (let i = 0; i < 100 && !seen.some((e) => (e as { type?: string }).type === 'message'); i++)
        await new Promise((r) => setTimeout(r, 20));
      const after = await scrape();
      const delta = (s: string) => value(after, s) - value(before, s);
      expect(delta('nexo_file_bytes_total{direction="in"}')).toBe(bytes.length);
      expect(delta('nexo_file_bytes_total{direction="out"}')).toBe(bytes.length);
      expect(value(after, 'nexo_file_uploads_in_progress')).toBe(0);
      expect(delta('nexo_chat_messages_total')).toBe(1);
      // The message reached both members (plus bob's join notice reached ana, and so on).
      expect(delta('nexo_chat_deliveries_total')).toBeGreaterThanOrEqual(2);
      expect(
        value(after, 'nexo_store_duration_seconds_count{engine="sqlite",op="chat.append"}'),
      ).toBeGreaterThanOrEqual(1);
      await roomA.leave();
      await roomB.leave();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps the same series with 10,000 sensors as with 10', { timeout: 120_000 }, async () => {
    const client = await clientOver(tcp, node);
    const report = (from: number, to: number) =>
      Promise.all(
        Array.from({ length: to - from }, (_, i) =>
          client.telemetry.report(`s${from + i}`, { metric: 'temperature', value: i }),
        ),
      );
    try {
      await report(0, 10);
      const few = nexoSeries(await scrape());
      for (let from = 10; from < 10_000; from += 1000) await report(from, Math.min(10_000, from + 1000));
      const text = await scrape();
      expect(value(text, 'nexo_service_value{service="telemetry",gauge="sensors"}')).toBeGreaterThanOrEqual(
        10_000,
      );
      const many = nexoSeries(text);
      expect(many).toEqual(few);
      expect(text).not.toMatch(/s9999/);
    } finally {
      await client.close();
    }
  });
});
