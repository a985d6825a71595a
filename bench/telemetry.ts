/**
 * Issue #3 benchmark: durable readings per second.
 *   (a) the ceiling: raw batched inserts into a SQLite file of the same schema and durability (WAL,
 *       synchronous=FULL), multi-row INSERTs, 5,000 rows per transaction in runs of 100 per sensor (the
 *       order of a group commit of 100-reading reports), no nexo, no rollup, no network;
 *   (b) nexo: 20 sensors, one connection each, reporting batches of 100 (4 in flight per sensor) and single
 *       readings (64 in flight per sensor); every ack means the reading is on disk;
 *   (c) Mosquitto on this machine: 20 mqtt.js clients publishing QoS 1 with 64 in flight each (acks counted;
 *       Mosquitto does not persist them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { connect } from '../src/client/index.js';
import { Flags, FrameType, HEADER_SIZE, PREFACE } from '../src/protocol/constants.js';
import { encodeFrame } from '../src/protocol/encoder.js';
import { packValue, unpackValue } from '../src/protocol/payload.js';
import { configureWriter } from '../src/services/telemetry/sqlite/schema.js';
import { fmt, measureWindow, spawnBenchServer, table } from './harness.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_MS = 700;
const SENSORS = 20;

interface Rate {
  /** Readings per second. */
  rate: number;
  /** Acks (requests) per second. */
  acks: number;
  note?: string;
}

/** (a) Raw SQLite: the same tables and pragmas as the store, rows straight in, one thread, nothing else. */
function rawSqlite(): Rate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-sqlite-'));
  const db = new Database(path.join(dir, 'raw.db'));
  configureWriter(db);
  const CHUNK = 64;
  const TX = 5000;
  const insert = db.prepare(
    `INSERT INTO readings (sensor, seq, series, ts, recv, value, tags) VALUES ${Array(CHUNK).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
  );
  const params = new Array<number | null>(CHUNK * 7);
  const seqs = new Float64Array(SENSORS);
  let value = 21;
  const transaction = db.transaction(() => {
    const now = Date.now();
    for (let k = 0; k < TX; k += CHUNK) {
      for (let j = 0; j < CHUNK; j++) {
        // Runs of 100 rows per sensor, as a group commit of 100-reading reports lays them out.
        const sensor = Math.floor((k + j) / 100) % SENSORS;
        const at = j * 7;
        params[at] = sensor + 1;
        params[at + 1] = seqs[sensor]!++;
        params[at + 2] = sensor + 1;
        params[at + 3] = now;
        params[at + 4] = now;
        value += 0.01;
        params[at + 5] = value;
        params[at + 6] = null;
      }
      insert.run(params);
    }
  });
  const warmEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmEnd) transaction();
  let rows = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  while (performance.now() < end) {
    transaction();
    rows += TX - (TX % CHUNK);
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { rate: rows / seconds, acks: rows / TX / seconds, note: `${TX} rows/transaction` };
}

/**
 * (b) A lean load generator speaking nexo: one socket per sensor, `inFlight` reports outstanding, each ack
 * answered by the next report. Every report carries new sequence numbers and the current time.
 */
export async function nexoLoad(port: number, batch: number, inFlight: number): Promise<Rate> {
  let recording = false;
  let stop = false;
  let acked = 0;
  let readings = 0;
  let failure: string | undefined;
  const hello = Buffer.concat([
    PREFACE,
    encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1], client: 'bench' })),
  ]);
  const sockets: net.Socket[] = [];
  for (let s = 0; s < SENSORS; s++) {
    const socket = await new Promise<net.Socket>((resolve) => {
      const c = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(c));
    });
    sockets.push(socket);
    const sensor = `bench-${batch}-${s}`;
    let seq = Date.now() * 1000;
    let value = 20 + s;
    let nextId = 1;
    const request = (): Buffer => {
      const ts = Date.now();
      let args: unknown;
      if (batch === 1) {
        value += 0.01;
        args = { sensor, metric: 'temperature', value, seq: seq++, ts };
      } else {
        const list = new Array(batch);
        for (let i = 0; i < batch; i++) {
          value += 0.01;
          list[i] = { metric: 'temperature', value, seq: seq++, ts };
        }
        args = { sensor, readings: list };
      }
      const id = nextId;
      nextId = nextId === 0xffff ? 1 : nextId + 1;
      return Buffer.from(
        encodeFrame(
          FrameType.REQUEST,
          0,
          id,
          packValue(['telemetry', batch === 1 ? 'report' : 'reportBatch', args]),
        ),
      );
    };
    let pending: Buffer = Buffer.alloc(0);
    let welcomed = false;
    socket.on('data', (chunk: Buffer) => {
      let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!welcomed) {
        if (data.length < 4 + HEADER_SIZE || data.length < 4 + HEADER_SIZE + data.readUInt32BE(4)) {
          pending = data;
          return;
        }
        data = data.subarray(4 + HEADER_SIZE + data.readUInt32BE(4));
        welcomed = true;
        socket.write(Buffer.concat(Array.from({ length: inFlight }, request)));
      }
      let offset = 0;
      let replies = 0;
      while (data.length - offset >= HEADER_SIZE) {
        const length = data.readUInt32BE(offset);
        if (data.length - offset - HEADER_SIZE < length) break;
        const type = data[offset + 4];
        const body = data.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + length);
        offset += HEADER_SIZE + length;
        if (type === FrameType.RESPONSE && (data[offset - length - HEADER_SIZE + 5]! & Flags.MORE) === 0) {
          const ack = unpackValue(body) as { accepted: number; duplicates: number };
          if (recording) {
            acked++;
            readings += ack.accepted;
          }
          if (ack.accepted !== batch)
            failure ??= `an ack said ${JSON.stringify(ack)} for ${batch} new readings`;
          replies++;
        } else if (type === FrameType.ERROR) {
          failure ??= `ERROR: ${JSON.stringify(unpackValue(body))}`;
          replies++;
        }
      }
      pending = data.subarray(offset);
      if (stop || replies === 0) return;
      socket.write(replies === 1 ? request() : Buffer.concat(Array.from({ length: replies }, request)));
    });
    socket.on('error', () => {});
    socket.write(hello);
  }
  const seconds = await measureWindow({ warmupMs: WARMUP_MS, seconds: SECONDS }, (on) => {
    recording = on;
  });
  stop = true;
  for (const s of sockets) s.destroy();
  if (failure !== undefined) throw new Error(`telemetry bench: ${failure}`);
  return { rate: readings / seconds, acks: acked / seconds };
}

/** (c) QoS 1 publishes acknowledged by the local Mosquitto, 20 clients x 64 in flight. */
async function mosquittoLoad(url: string): Promise<Rate | undefined> {
  const clients = await Promise.all(
    Array.from({ length: SENSORS }, (_, i) =>
      mqtt.connectAsync(url, { clientId: `nexo-bench-${process.pid}-${i}`, clean: true, reconnectPeriod: 0 }),
    ),
  ).catch(() => undefined);
  if (clients === undefined) return undefined;
  let recording = false;
  let stop = false;
  let acked = 0;
  const prefix = `nexo-bench/${process.pid}`;
  clients.forEach((client, i) => {
    let value = 20;
    const publish = () => {
      if (stop) return;
      value += 0.01;
      client.publish(`${prefix}/s${i}/temperature`, value.toFixed(2), { qos: 1 }, (err) => {
        if (err) return;
        if (recording) acked++;
        publish();
      });
    };
    for (let k = 0; k < 64; k++) publish();
  });
  const seconds = await measureWindow({ warmupMs: WARMUP_MS, seconds: SECONDS }, (on) => {
    recording = on;
  });
  stop = true;
  await Promise.all(clients.map((c) => c.endAsync(true)));
  return { rate: acked / seconds, acks: acked / seconds, note: 'QoS 1, not persisted' };
}

/** Reads back the node's own count: every acked reading must be there. */
async function storedCount(port: number): Promise<number> {
  const client = await connect({ endpoints: [`127.0.0.1:${port}`] });
  try {
    const stats = await client.telemetry.stats();
    return Number(stats.readings);
  } finally {
    await client.close();
  }
}

export async function benchTelemetry(): Promise<{ text: string }> {
  const ceiling = rawSqlite();
  const server = await spawnBenchServer('telemetry-server.js', []);
  let batched: Rate;
  let single: Rate;
  let stored: number;
  try {
    batched = await nexoLoad(server.port, 100, 4);
    single = await nexoLoad(server.port, 1, 64);
    stored = await storedCount(server.port);
  } finally {
    await server.stop();
  }
  const mosquitto = await mosquittoLoad(process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883');
  const rows: string[][] = [
    ['raw SQLite batched inserts (ceiling)', fmt.rate(ceiling.rate), '100%', '', ceiling.note ?? ''],
    [
      'nexo, 20 sensors, batches of 100',
      fmt.rate(batched.rate),
      fmt.pct(batched.rate / ceiling.rate),
      `${fmt.rate(batched.acks)} acks/s`,
      'durable acks (fsync per group commit)',
    ],
    [
      'nexo, 20 sensors, single readings, 64 in flight each',
      fmt.rate(single.rate),
      fmt.pct(single.rate / ceiling.rate),
      mosquitto === undefined ? '' : `${fmt.pct(single.rate / mosquitto.rate)} of Mosquitto`,
      'durable acks',
    ],
    mosquitto === undefined
      ? ['Mosquitto QoS 1 (no broker on 1883)', '-', '', '', '']
      : [
          'Mosquitto QoS 1, 20 clients x 64 in flight',
          fmt.rate(mosquitto.rate),
          fmt.pct(mosquitto.rate / ceiling.rate),
          '',
          mosquitto.note ?? '',
        ],
  ];
  const text = `${table(['readings/s', 'rate', 'of ceiling', 'ratio', 'note'], rows)}\nreadings stored by the node after the run: ${stored} (every ack counted above is among them)`;
  return { text };
}
