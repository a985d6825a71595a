import { afterEach, describe, expect, it } from 'vitest';
import { NexoClient } from '../../../src/client/client.js';
import { SensorClient } from '../../../src/client/sensor-client.js';
import { tcpSocketFactory } from '../../../src/client/tcp.js';
import type { StoredReading } from '../../../src/wire/telemetry.js';
import { freePort, type ServerProcess, spawnServer, startNode, tempDataDir } from '../../helpers/node.js';
import { client, eventually } from '../../helpers/telemetry.js';

/**
 * Acks mean durable: readings acknowledged before a crash are there after it, exactly once, and sensors that
 * keep running resend what was not acknowledged until the count is exact.
 */

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function sensorClient(
  port: number,
  sensor: string,
  options: Partial<ConstructorParameters<typeof SensorClient>[1]> = {},
) {
  const nexo = new NexoClient({
    endpoints: [`127.0.0.1:${port}`],
    socketFactory: tcpSocketFactory,
    reconnect: { initialDelayMs: 50, maxDelayMs: 300, maxAttempts: Number.POSITIVE_INFINITY },
    requestTimeoutMs: 10_000,
  });
  cleanup.push(() => nexo.destroy());
  return { nexo, sensor: new SensorClient(nexo, { sensor, ...options }) };
}

async function storedReadings(port: number, sensor: string): Promise<StoredReading[]> {
  const c = await client(port);
  try {
    const all: StoredReading[] = [];
    for await (const r of c.telemetry.allReadings({ sensor, metric: 'temperature', limit: 10_000 }))
      all.push(r);
    return all;
  } finally {
    await c.close();
  }
}

describe('sensor client', () => {
  it('buffers while the node is down and sends the backlog, oldest first, when it is back', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    let node = await startNode({ port, dataDir });
    const { sensor } = sensorClient(port, 'buf1', { batchSize: 10, maxInFlight: 2 });
    const events: string[] = [];
    sensor.on('buffering', () => events.push('buffering'));
    sensor.on('resumed', () => events.push('resumed'));
    for (let i = 0; i < 30; i++) sensor.report('temperature', i);
    await sensor.flush();
    await node.close({ timeoutMs: 2000 });
    // The node is gone: readings queue up.
    for (let i = 30; i < 130; i++) {
      sensor.report('temperature', i);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(() => (events.includes('buffering') ? true : undefined));
    expect(sensor.buffered).toBeGreaterThan(0);
    node = await startNode({ port, dataDir });
    cleanup.push(() => node.close({ timeoutMs: 2000 }));
    await sensor.flush();
    expect(sensor.buffered).toBe(0);
    expect(events).toContain('resumed');
    const stored = await storedReadings(port, 'buf1');
    expect(stored.map((r) => r.value)).toEqual([...Array(130).keys()]);
    // Sent again in order: the node received them in sequence order.
    const bySeq = [...stored].sort((a, b) => a.seq! - b.seq!);
    for (let i = 1; i < bySeq.length; i++) expect(bySeq[i]!.recv).toBeGreaterThanOrEqual(bySeq[i - 1]!.recv);
    expect(sensor.stats).toMatchObject({ reported: 130, acked: 130, rejected: 0, dropped: 0 });
  });

  it('keeps at most maxBuffered readings: the oldest unsent go first, and it says so', async () => {
    const port = await freePort();
    const { sensor } = sensorClient(port, 'buf2', { batchSize: 10, maxBuffered: 50 });
    let dropped = 0;
    sensor.on('dropped', ({ count }) => {
      dropped += count;
    });
    for (let i = 0; i < 80; i++) sensor.report('temperature', i);
    expect(sensor.buffered).toBe(50);
    expect(dropped).toBe(30);
    const node = await startNode({ port });
    cleanup.push(() => node.close({ timeoutMs: 2000 }));
    await sensor.flush();
    expect((await storedReadings(port, 'buf2')).map((r) => r.value)).toEqual(
      [...Array(50).keys()].map((i) => i + 30),
    );
  });

  it('refuses invalid readings at once, and drops a reading the node refuses without blocking the rest', async () => {
    const node = await startNode();
    cleanup.push(() => node.close({ timeoutMs: 2000 }));
    const { sensor } = sensorClient(node.port, 'rej1', { batchSize: 5 });
    expect(() => sensor.report('temperature', Number.NaN)).toThrow(/not a finite number/);
    expect(() => sensor.report('bad metric', 1)).toThrow(/not valid/);
    const rejected: string[] = [];
    sensor.on('rejected', ({ error }) => rejected.push(error.message));
    sensor.report('temperature', 1);
    sensor.report('temperature', 2, { ts: Date.UTC(3000, 0, 1) });
    sensor.report('temperature', 3);
    await sensor.flush();
    expect(rejected).toEqual([expect.stringMatching(/^reading 1: ts \d+ \(3000-01-01/)]);
    expect((await storedReadings(node.port, 'rej1')).map((r) => r.value)).toEqual([1, 3]);
  });
});

describe('acceptance: kill -9 in the middle of a 100k-reading ingest from 20 sensors', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
  });

  it('keeps every acked reading exactly once; the running sensors resend the rest; the final count is exact', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const args = ['--data-dir', dataDir, '--port', String(port)];
    server = await spawnServer(args);
    const SENSORS = 20;
    const PER_SENSOR = 5000;
    const sensors = Array.from(
      { length: SENSORS },
      (_, i) => sensorClient(port, `k${i}`, { batchSize: 100, maxInFlight: 4 }).sensor,
    );
    const acked = sensors.map(() => new Set<number>());
    let ackedTotal = 0;
    for (const [i, s] of sensors.entries()) {
      s.on('ack', (ack) => {
        for (let seq = ack.first; seq <= ack.last; seq++) acked[i]!.add(seq);
        ackedTotal += ack.count;
      });
    }
    // Each sensor reports 100 readings every 100 ms (1,000/s, 20,000/s in all) for 5 s.
    const reported = sensors.map(() => [] as number[]);
    const producing = (async () => {
      for (let tick = 0; tick < PER_SENSOR / 100; tick++) {
        sensors.forEach((s, i) => {
          for (let k = 0; k < 100; k++) reported[i]!.push(s.report('temperature', tick * 100 + k));
        });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    await eventually(() => (ackedTotal >= 30_000 ? true : undefined), 30_000);
    server.child.kill('SIGKILL');
    await server.stop('SIGKILL');
    const ackedBeforeKill = acked.map((set) => new Set(set));
    const ackedCountBeforeKill = ackedBeforeKill.reduce((n, s) => n + s.size, 0);
    expect(ackedCountBeforeKill).toBeGreaterThanOrEqual(30_000);
    expect(ackedCountBeforeKill).toBeLessThan(SENSORS * PER_SENSOR); // it really was in the middle

    await new Promise((r) => setTimeout(r, 300)); // the sensors notice and buffer
    server = await spawnServer(args);
    await producing;
    await Promise.all(sensors.map((s) => s.flush()));

    for (const [i, s] of sensors.entries()) {
      expect(s.stats).toMatchObject({ reported: PER_SENSOR, rejected: 0, dropped: 0 });
      expect(s.buffered).toBe(0);
      const seqs = (await storedReadings(port, `k${i}`)).map((r) => r.seq!);
      expect(seqs.length, `sensor k${i}`).toBe(PER_SENSOR); // exact: none lost, none twice
      const stored = new Set(seqs);
      expect(stored.size).toBe(PER_SENSOR);
      for (const seq of reported[i]!) expect(stored.has(seq)).toBe(true);
      for (const seq of ackedBeforeKill[i]!) expect(stored.has(seq)).toBe(true);
    }
    const c = await client(port);
    const stats = await c.telemetry.stats();
    await c.close();
    expect(stats.readings).toBe(SENSORS * PER_SENSOR);
  }, 120_000);
});
