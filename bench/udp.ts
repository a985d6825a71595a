/**
 * `npm run bench -- udp`: acknowledged readings per second from sensors over secure UDP sessions (protocol
 * §13.3) beside the same sensors over TCP, in the same run, against one node in its own process: one sensor
 * and 100 sensors, at 0% loss and at 10% loss each way (injected by the bench's own relay, as the namespace
 * test's nftables rule does; this kernel has no netem). Every ack means the readings are on disk (§9.T.1).
 * TCP has no lossy case: without netem, TCP loss cannot be injected on loopback.
 */
import { NexoClient } from '../src/client/client.js';
import { SensorClient } from '../src/client/sensor-client.js';
import type { SocketFactory } from '../src/client/socket.js';
import { tcpSocketFactory } from '../src/client/tcp.js';
import { udpSocketFactory } from '../src/client/udp.js';
import { fmt, measureWindow, spawnBenchServer, table } from './harness.js';
import { startRelay } from './udp-relay.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_MS = 1000;
/** Readings per report and reports in flight per sensor: the same for both transports. */
const BATCH = 10;
const IN_FLIGHT = 4;

interface Case {
  label: string;
  rate: number;
  retransmissions?: number;
}

async function sensorsLoad(
  port: number,
  sensors: number,
  factory: SocketFactory,
  label: string,
): Promise<number> {
  const clients: NexoClient[] = [];
  const sensorClients: SensorClient[] = [];
  let acked = 0;
  let recording = false;
  for (let s = 0; s < sensors; s++) {
    const client = new NexoClient({
      endpoints: [`127.0.0.1:${port}`],
      socketFactory: factory,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      connectTimeoutMs: 10_000,
    });
    await client.connect();
    clients.push(client);
    const sensor = new SensorClient(client, {
      sensor: `${label}-${sensors}-${s}`,
      batchSize: BATCH,
      maxInFlight: IN_FLIGHT,
      maxBuffered: 100_000,
    });
    let value = 20;
    const top = () => {
      while (sensor.buffered < BATCH * IN_FLIGHT * 2) {
        value += 0.01;
        sensor.report('temperature', value);
      }
    };
    sensor.on('ack', (ack) => {
      if (recording) acked += ack.count;
      top();
    });
    sensorClients.push(sensor);
    top();
  }
  const seconds = await measureWindow({ warmupMs: WARMUP_MS, seconds: SECONDS }, (on) => {
    recording = on;
  });
  // Graceful close, so the node's sessions end now instead of waiting out their timeouts during the next case.
  await Promise.race([Promise.all(clients.map((c) => c.close())), new Promise((r) => setTimeout(r, 3000))]);
  for (const client of clients) client.destroy();
  return acked / seconds;
}

export async function benchUdp(): Promise<{ text: string }> {
  const server = await spawnBenchServer('telemetry-server.js', []);
  const rows: string[][] = [];
  try {
    for (const sensors of [1, 100]) {
      const tcp = await sensorsLoad(server.port, sensors, tcpSocketFactory, 'tcp');
      const cases: Case[] = [];
      cases.push({
        label: 'UDP, direct',
        rate: await sensorsLoad(server.port, sensors, udpSocketFactory(), 'udp'),
      });
      for (const loss of [0, 0.1]) {
        const relay = await startRelay({ target: { host: '127.0.0.1', port: server.port }, loss, seed: 42 });
        try {
          const rate = await sensorsLoad(relay.port, sensors, udpSocketFactory(), `udp-loss${loss}`);
          cases.push({ label: `UDP through the relay, ${loss * 100}% loss each way`, rate });
        } finally {
          await relay.close();
        }
      }
      rows.push([`${sensors} sensor${sensors > 1 ? 's' : ''}: TCP (reference)`, fmt.rate(tcp), '100%']);
      for (const c of cases)
        rows.push([
          `${sensors} sensor${sensors > 1 ? 's' : ''}: ${c.label}`,
          fmt.rate(c.rate),
          fmt.pct(c.rate / tcp),
        ]);
    }
  } finally {
    await server.stop();
  }
  return {
    text: `acked readings/s, reports of ${BATCH} readings, ${IN_FLIGHT} in flight per sensor, ${SECONDS} s per case\n${table(['case', 'readings/s', 'of TCP'], rows)}`,
  };
}
