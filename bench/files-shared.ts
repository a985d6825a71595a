/**
 * Issue #14 benchmark: one file uploaded into and downloaded from the shared content store
 * (`--storage postgres`: bytes in PostgreSQL, services/files/postgres/store.ts), next to its ceiling
 * measured in the same run: the bench process puts the same bytes into the same engine with its own client
 * (`pg`, one connection, the store's own tables and 1 MiB rows, in one transaction: the "bytea rows
 * of 1 MiB in one transaction") and gets them back (windows of 4 MiB, in order). nexo's side is a real
 * node in its own process and the library client: upload = read the file, CRC-32 and SHA-256, send; the
 * node verifies and appends (each append committed before its offset is reported), then commits. Download
 * = the node reads windows of rows and sends chunks; the client checks CRC-32 and SHA-256 and drops the bytes
 * (the raw get hashes them too, so both sides verify and neither writes a local file).
 *
 * BENCH_SHARED_MIB sets the size (default 128); BENCH_SHARED_ROUNDS the rounds (default 2), best of the
 * rounds counts. Every round uploads different content (its first bytes differ), so nothing is deduplicated.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { connect } from '../src/client/index.js';
import { CONTENT_MIGRATIONS } from '../src/services/files/postgres/content-migrations.js';
import { ROW_BYTES } from '../src/services/files/postgres/store.js';
import { makeFile } from './files.js';
import { cpuMs, fmt, spawnBenchServer, table } from './harness.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SHARED_MIB ?? 128) * MIB;
const ROUNDS = Number(process.env.BENCH_SHARED_ROUNDS ?? 2);
const PG_URL = process.env.NEXO_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NEXO_BENCH_NATS ?? 'nats://127.0.0.1:4222';

/** Makes the file's content new for this round (its first 8 bytes), so no round is deduplicated. */
async function markRound(file: string, round: number): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const mark = Buffer.alloc(8);
    mark.writeBigUInt64BE(BigInt(Date.now() * 100 + round));
    await handle.write(mark, 0, 8, 0);
  } finally {
    await handle.close();
  }
}

function pgUrl(schema: string): string {
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** The raw put: the file read in 1 MiB rows, hashed, inserted in one transaction. */
async function rawPut(c: pg.Client, file: string, objectId: number): Promise<number> {
  const started = performance.now();
  const handle = await fs.open(file, 'r');
  const hash = createHash('sha256');
  try {
    await c.query('BEGIN');
    await c.query('INSERT INTO files_objects (id, sha256, size) VALUES ($1, $2, $3)', [
      objectId,
      `raw${objectId}`,
      SIZE,
    ]);
    for (let pos = 0; pos < SIZE; pos += ROW_BYTES) {
      const buffer = Buffer.allocUnsafe(Math.min(ROW_BYTES, SIZE - pos));
      await handle.read(buffer, 0, buffer.length, pos);
      hash.update(buffer);
      await c.query('INSERT INTO files_chunks (object_id, pos, len, data) VALUES ($1, $2, $3, $4)', [
        objectId,
        pos,
        buffer.length,
        buffer,
      ]);
    }
    await c.query('COMMIT');
    hash.digest();
  } finally {
    await handle.close();
  }
  return performance.now() - started;
}

/** The raw get: windows of 4 MiB in order, every byte hashed. */
async function rawGet(c: pg.Client, objectId: number): Promise<number> {
  const started = performance.now();
  const hash = createHash('sha256');
  let got = 0;
  for (let pos = 0; pos < SIZE; pos += 4 * MIB) {
    const r = await c.query<{ data: Buffer }>(
      'SELECT data FROM files_chunks WHERE object_id = $1 AND pos >= $2 AND pos < $3 ORDER BY pos',
      [objectId, pos, pos + 4 * MIB],
    );
    for (const row of r.rows) {
      hash.update(row.data);
      got += row.data.length;
    }
  }
  hash.digest();
  if (got !== SIZE) throw new Error(`raw get read ${got} of ${SIZE} bytes`);
  return performance.now() - started;
}

/** CPU time (ms) used so far by each PostgreSQL backend of `pids` (undefined: gone or not Linux). */
function backendCpu(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms !== undefined) out.set(pid, ms);
  }
  return out;
}

/** CPU the backends used between two snapshots (a backend that appeared meanwhile counts from 0). */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** The node's PostgreSQL backends: its pool's connections (application_name "nexo …", since it started). */
async function nodeBackends(admin: pg.Client, since: Date): Promise<number[]> {
  const r = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'nexo%' AND backend_start >= $1",
    [since],
  );
  return r.rows.map((row) => row.pid);
}

/** CPU per MiB of one measured operation: the bench process, the node process, their PostgreSQL backends. */
interface CpuPerMiB {
  client: number;
  node: number;
  postgres: number;
}

export async function benchFilesShared(): Promise<{ text: string }> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-files-shared-'));
  const schema = `nxbench_files_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const rawSchema = `${schema}_raw`;
  await admin.query(`CREATE SCHEMA ${schema}; CREATE SCHEMA ${rawSchema}`);
  const source = path.join(work, 'source.bin');
  await makeFile(source, SIZE);
  const raw = new pg.Client({ connectionString: pgUrl(rawSchema) });
  await raw.connect();
  await raw.query(CONTENT_MIGRATIONS[0]!.sql);
  const rawPid = (await raw.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const nexoSince = new Date(Date.now() - 1000);
  const nexo = await spawnBenchServer('file-servers.js', [
    'nexo-pg',
    path.join(work, 'node'),
    pgUrl(schema),
    NATS_URL,
  ]);
  const times = {
    put: [] as number[],
    get: [] as number[],
    upload: [] as number[],
    download: [] as number[],
  };
  // CPU per MiB of the raw put and of nexo's upload, in the round with the lowest (a loaded machine's noise
  // only adds): wall times swing with other processes, CPU time much less.
  let putCpu: CpuPerMiB | undefined;
  let uploadCpu: CpuPerMiB | undefined;
  const perMiB = (ms: number) => ms / (SIZE / MIB);
  const lower = (a: CpuPerMiB | undefined, b: CpuPerMiB) =>
    a === undefined || a.client + a.node + a.postgres > b.client + b.node + b.postgres ? b : a;
  try {
    const library = await connect({ endpoints: [`127.0.0.1:${nexo.port}`] });
    for (let round = 0; round < ROUNDS; round++) {
      await markRound(source, round);
      let client = process.cpuUsage();
      let backends = backendCpu([rawPid]);
      times.put.push(await rawPut(raw, source, round + 1));
      let used = process.cpuUsage(client);
      putCpu = lower(putCpu, {
        client: perMiB((used.user + used.system) / 1000),
        node: 0,
        postgres: perMiB(cpuBetween(backends, backendCpu([rawPid]))),
      });
      times.get.push(await rawGet(raw, round + 1));
      // Not kept: the next round's ceiling meets the same table size as nexo's next round.
      await raw.query('DELETE FROM files_objects WHERE id = $1', [round + 1]);
      client = process.cpuUsage();
      const nodeBefore = cpuMs(nexo.pid ?? 0) ?? 0;
      backends = backendCpu(await nodeBackends(admin, nexoSince));
      let started = performance.now();
      const entry = await library.files.upload(source, { name: `bench-${round}.bin` });
      times.upload.push(performance.now() - started);
      used = process.cpuUsage(client);
      uploadCpu = lower(uploadCpu, {
        client: perMiB((used.user + used.system) / 1000),
        node: perMiB((cpuMs(nexo.pid ?? 0) ?? 0) - nodeBefore),
        postgres: perMiB(cpuBetween(backends, backendCpu(await nodeBackends(admin, nexoSince)))),
      });
      started = performance.now();
      const drop = new Writable({
        write: (_chunk, _encoding, done) => done(),
      });
      await library.files.download(entry.id, drop);
      times.download.push(performance.now() - started);
    }
    await library.close();
  } finally {
    await nexo.stop();
    await raw.end();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${rawSchema} CASCADE`);
    await admin.end();
    rmSync(work, { recursive: true, force: true });
  }
  const rate = (ms: number[]) => SIZE / (Math.min(...ms) / 1000);
  const rows = [
    ['raw put (pg, 1 MiB rows, one transaction)', fmt.mbps(rate(times.put)), ''],
    [
      'nexo upload (files.upload, --storage postgres)',
      fmt.mbps(rate(times.upload)),
      fmt.pct(rate(times.upload) / rate(times.put)),
    ],
    ['raw get (pg, 4 MiB windows)', fmt.mbps(rate(times.get)), ''],
    [
      'nexo download (files.download)',
      fmt.mbps(rate(times.download)),
      fmt.pct(rate(times.download) / rate(times.get)),
    ],
  ];
  const cpu = (c: CpuPerMiB | undefined) =>
    c === undefined
      ? ['-', '-', '-', '-']
      : [c.client, c.node, c.postgres, c.client + c.node + c.postgres].map((ms) => `${ms.toFixed(1)} ms`);
  const text = [
    `${SIZE / MIB} MiB, best of ${ROUNDS} rounds, load average ${os.loadavg()[0]!.toFixed(1)}`,
    table(['case', 'rate', 'of ceiling'], rows),
    'CPU time per MiB (lowest round; PostgreSQL: the backends doing the work)',
    table(
      ['case', 'bench process', 'node', 'PostgreSQL', 'total'],
      [
        ['raw put', ...cpu(putCpu)],
        ['nexo upload', ...cpu(uploadCpu)],
      ],
    ),
  ].join('\n');
  return { text };
}
