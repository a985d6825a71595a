import { execFile, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../../src/client/client.js';
import type { NexoNode } from '../../../src/node/node.js';
import { freePort, type ServerProcess, spawnServer, startNode, tempDataDir } from '../../helpers/node.js';
import {
  type Broker,
  client,
  eventually,
  MOSQUITTO_PUB,
  mqttBroker,
  uniquePrefix,
} from '../../helpers/telemetry.js';

/**
 * MQTT ingest against a real broker (the Mosquitto on 127.0.0.1:1883, or one started for the test) with the
 * real `mosquitto_pub`. Without them the tests are skipped with the reason, except in CI, where they fail.
 */

const run = promisify(execFile);
let broker: Broker | undefined;
const missing =
  MOSQUITTO_PUB === undefined
    ? 'mosquitto_pub is not installed (apt-get install mosquitto-clients)'
    : undefined;

beforeAll(async () => {
  broker = missing === undefined ? await mqttBroker() : undefined;
  if (process.env.CI === 'true' && (missing !== undefined || broker === undefined)) {
    throw new Error(missing ?? 'no MQTT broker: install mosquitto (apt-get install mosquitto)');
  }
  if (missing !== undefined) console.warn(`skipping MQTT tests: ${missing}`);
  else if (broker === undefined)
    console.warn('skipping MQTT tests: no broker on 127.0.0.1:1883 and no mosquitto to start');
});
afterAll(async () => {
  await broker?.stop();
});

function pub(args: string[]): Promise<unknown> {
  return run(MOSQUITTO_PUB!, ['-h', '127.0.0.1', '-p', String(broker!.port), ...args], { timeout: 10_000 });
}

/** A node ingesting `<prefix>/+/+` (or the default `sensors/+/+`), with its log lines captured. */
async function mqttNode(options: { topic?: string; clientId?: string; dataDir?: string } = {}) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n'))
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const node = await startNode(
    {
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      telemetry: {
        mqtt: {
          url: broker!.url,
          ...(options.topic ? { topic: options.topic } : {}),
          ...(options.clientId ? { clientId: options.clientId } : {}),
        },
      },
    },
    { logger: pino({ level: 'info' }, sink) },
  );
  const c = await client(node.port);
  await eventually(
    async () => ((await c.telemetry.stats()).mqtt as { subscribed: boolean }).subscribed || undefined,
    10_000,
  );
  return { node, c, lines };
}

async function latest(c: NexoClient, sensor: string) {
  try {
    return (await c.telemetry.latest({ sensor })).readings;
  } catch {
    return [];
  }
}

describe.skipIf(missing !== undefined)('MQTT ingest', () => {
  let node: NexoNode & { port: number };
  let c: NexoClient;
  let lines: Record<string, unknown>[];
  let prefix: string;

  beforeAll(async () => {
    if (broker === undefined) return;
    prefix = uniquePrefix();
    ({ node, c, lines } = await mqttNode({ topic: `${prefix}/+/+` }));
  });
  afterAll(async () => {
    await c?.close();
    await node?.close({ timeoutMs: 2000 });
  });

  it('acceptance: mosquitto_pub -t sensors/s9/temperature -m 21.5 is queryable within a second', async (ctx) => {
    if (broker === undefined) ctx.skip();
    const own = await mqttNode(); // the default topic filter, sensors/+/+
    try {
      const sensor = `s9`;
      const started = Date.now();
      await pub(['-t', `sensors/${sensor}/temperature`, '-m', '21.5']);
      const found = await eventually(async () => {
        const r = (await latest(own.c, sensor)).find((x) => x.metric === 'temperature' && x.recv >= started);
        return r;
      }, 3000);
      const ms = Date.now() - started;
      expect(found.value).toBe(21.5);
      expect(ms).toBeLessThan(1000);
      const { readings } = await own.c.telemetry.readings({
        sensor,
        metric: 'temperature',
        from: started - 1000,
      });
      expect(readings.map((r) => r.value)).toContain(21.5);
    } finally {
      await own.c.close();
      await own.node.close({ timeoutMs: 2000 });
    }
  });

  it('takes JSON readings (QoS 1) with their timestamp, sequence number, unit and tags; a resent seq is stored once', async () => {
    const payload = JSON.stringify({
      value: 48.5,
      unit: '%',
      ts: '2026-01-02T03:04:05Z',
      seq: 7,
      tags: { fw: '1.2' },
      location: 'roof',
    });
    await pub(['-q', '1', '-t', `${prefix}/m2/humidity`, '-m', payload]);
    await pub(['-q', '1', '-t', `${prefix}/m2/humidity`, '-m', payload]);
    await pub(['-q', '1', '-t', `${prefix}/m2/humidity`, '-m', JSON.stringify({ value: 49, seq: 8 })]);
    const readings = await eventually(async () => {
      const r = await c.telemetry.readings({ sensor: 'm2', metric: 'humidity' }).catch(() => undefined);
      return r !== undefined && r.readings.length >= 2 ? r : undefined;
    });
    await new Promise((r) => setTimeout(r, 200)); // give a duplicate the time to show up, if it were stored
    const again = await c.telemetry.readings({ sensor: 'm2', metric: 'humidity' });
    expect(again.readings.map((r) => [r.seq, r.value])).toEqual([
      [7, 48.5],
      [8, 49],
    ]);
    expect(readings.unit).toBe('%');
    expect(again.readings[0]).toMatchObject({ ts: Date.UTC(2026, 0, 2, 3, 4, 5), tags: { fw: '1.2' } });
    expect((await c.telemetry.sensor('m2')).location).toBe('roof');
  });

  it('logs and counts invalid messages, stores none of them, and keeps ingesting', async () => {
    const before = (await c.telemetry.stats()).mqtt as { invalid: number };
    const bad = ['NaN', 'hot', '{"value":', '{"value":"21"}', '{"value":1,"ts":"3000-01-01T00:00:00Z"}', ''];
    for (const m of bad) await pub(['-q', '1', '-t', `${prefix}/bad1/temperature`, '-m', m]);
    await pub(['-q', '1', '-t', `${prefix}/bad%20id/temperature`, '-m', '1']);
    // 1 MB payload (from stdin).
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        MOSQUITTO_PUB!,
        ['-h', '127.0.0.1', '-p', String(broker!.port), '-q', '1', '-t', `${prefix}/bad1/temperature`, '-s'],
        (err) => (err ? reject(err) : resolve()),
      );
      child.stdin!.end('1'.repeat(1_000_000));
    });
    await pub(['-q', '1', '-t', `${prefix}/good1/temperature`, '-m', '20']);
    await eventually(async () => ((await latest(c, 'good1')).length > 0 ? true : undefined));
    const after = (await c.telemetry.stats()).mqtt as { invalid: number };
    expect(after.invalid - before.invalid).toBe(bad.length + 2);
    expect((await latest(c, 'bad1')).length).toBe(0);
    const refused = lines.filter((l) => l.msg === 'MQTT message refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ code: 'TELEMETRY_INVALID_READING', reason: expect.any(String) });
  });

  it('takes a burst of QoS 1 messages many at a time (one commit per broker window, not per message)', async () => {
    const lines = Array.from({ length: 800 }, (_, i) => JSON.stringify({ value: i, seq: i })).join('\n');
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        MOSQUITTO_PUB!,
        ['-h', '127.0.0.1', '-p', String(broker!.port), '-q', '1', '-t', `${prefix}/burst1/t`, '-l'],
        (err) => (err ? reject(err) : resolve()),
      );
      child.stdin!.end(`${lines}\n`);
    });
    const stats = await eventually(async () => {
      const s = await c.telemetry.sensor('burst1').catch(() => undefined);
      return s !== undefined && s.readings === 800 ? s : undefined;
    }, 10_000);
    const ms = Date.now() - started;
    console.info(`800 QoS 1 messages stored in ${ms} ms`);
    expect(stats.readings).toBe(800);
    expect(ms).toBeLessThan(5000);
  });

  it('holds QoS 1 messages published while the node is down, and stores them when it is back', async () => {
    const dataDir = tempDataDir();
    const clientId = `nexo-test-${uniquePrefix()}`.slice(0, 60);
    const topic = `${uniquePrefix()}/+/+`;
    const first = await mqttNode({ topic, clientId, dataDir });
    await first.c.close();
    await first.node.close({ timeoutMs: 2000 });
    // Nobody is connected for this session now: the broker keeps the messages for it.
    const base = topic.slice(0, -4);
    for (let i = 0; i < 5; i++)
      await pub(['-q', '1', '-t', `${base}/off1/temperature`, '-m', JSON.stringify({ value: i, seq: i })]);
    const second = await mqttNode({ topic, clientId, dataDir });
    try {
      const stored = await eventually(async () => {
        const r = await second.c.telemetry
          .readings({ sensor: 'off1', metric: 'temperature' })
          .catch(() => undefined);
        return r !== undefined && r.readings.length === 5 ? r : undefined;
      }, 5000);
      expect(stored.readings.map((r) => r.value)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await second.c.close();
      await second.node.close({ timeoutMs: 2000 });
      // Leave no session behind on the shared broker.
      const mqtt = await import('mqtt');
      const cleaner = await mqtt.connectAsync(broker!.url, {
        clientId,
        clean: true,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 0 },
      });
      await cleaner.endAsync();
    }
  });

  it('acknowledges a message only once it is durable: kill -9 mid-stream, restart, every message is stored once', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const clientId = `nexo-test-${uniquePrefix()}`.slice(0, 60);
    const base = uniquePrefix();
    const args = [
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--mqtt',
      broker!.url,
      '--mqtt-topic',
      `${base}/+/+`,
      '--mqtt-client-id',
      clientId,
      '--sensor-rate',
      '0',
    ];
    let server: ServerProcess | undefined = await spawnServer(args);
    try {
      const x = await client(port); // --port given: the server listens there, not on the port spawnServer picked
      await eventually(
        async () => ((await x.telemetry.stats()).mqtt as { subscribed: boolean }).subscribed || undefined,
        10_000,
      );
      // Ballast over the protocol makes each commit big and slow, so that at the kill some MQTT messages are
      // surely received but not yet durable: they must not have been acknowledged to the broker.
      let ballastSeq = 0;
      const ballast = Array.from({ length: 8 }, async () => {
        for (;;) {
          const readings = Array.from({ length: 1000 }, () => ({ metric: 'b', value: 1, seq: ballastSeq++ }));
          try {
            await x.telemetry.reportBatch('ballast', readings);
          } catch {
            return; // the node was killed
          }
        }
      });
      const TOTAL = 900;
      let published = 0;
      // One publisher, 500 QoS 1 messages a second (the broker queues at most 1,000 for a session while the
      // node is down), so at the kill some messages are always between the broker and the disk.
      const publisher = spawn(
        MOSQUITTO_PUB!,
        ['-h', '127.0.0.1', '-p', String(broker!.port), '-q', '1', '-t', `${base}/crash1/t`, '-l'],
        {
          stdio: ['pipe', 'ignore', 'ignore'],
        },
      );
      const publishing = (async () => {
        for (let k = 0; k < TOTAL; k += 5) {
          publisher.stdin!.write(
            `${Array.from({ length: 5 }, (_, i) => JSON.stringify({ value: k + i, seq: k + i })).join('\n')}\n`,
          );
          published += 5;
          await new Promise((r) => setTimeout(r, 10));
        }
        publisher.stdin!.end();
        await new Promise((r) => publisher.once('exit', r));
      })();
      await eventually(() => (published >= 300 ? true : undefined), 10_000);
      await server.stop('SIGKILL');
      x.destroy();
      await Promise.all(ballast);
      server = await spawnServer(args);
      await publishing;
      const y = await client(port);
      try {
        const seqs = await eventually(async () => {
          const r = await y.telemetry
            .readings({ sensor: 'crash1', metric: 't', limit: 10_000 })
            .catch(() => undefined);
          return r !== undefined && r.readings.length >= TOTAL ? r.readings.map((x) => x.seq) : undefined;
        }, 15_000);
        expect(seqs).toHaveLength(TOTAL); // every message, none twice
        expect(new Set(seqs).size).toBe(TOTAL);
      } finally {
        await y.close();
      }
    } finally {
      await server?.stop('SIGKILL');
      const mqtt = await import('mqtt');
      const cleaner = await mqtt.connectAsync(broker!.url, {
        clientId,
        clean: true,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 0 },
      });
      await cleaner.endAsync();
    }
  });
});
