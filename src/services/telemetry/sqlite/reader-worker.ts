/**
 * Entry of the reader threads (ReaderPool): one read-only connection per store file, kept between queries.
 */
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { AlertEventQuery, BucketQuery, RawQuery } from '../store.js';
import { SqliteReader } from './reader.js';
import type { ReaderReply } from './reader-pool.js';

export type ReaderTask =
  | { path: string; op: 'readings'; query: RawQuery }
  | { path: string; op: 'buckets'; query: BucketQuery }
  | { path: string; op: 'alertEvents'; query: AlertEventQuery };

const readers = new Map<string, SqliteReader>();

function readerFor(path: string): SqliteReader {
  let reader = readers.get(path);
  if (reader === undefined) {
    reader = new SqliteReader(new Database(path, { readonly: true, fileMustExist: true }));
    readers.set(path, reader);
  }
  return reader;
}

function run(task: ReaderTask): unknown {
  const reader = readerFor(task.path);
  switch (task.op) {
    case 'readings':
      return reader.readings(task.query);
    case 'buckets':
      return reader.buckets(task.query);
    case 'alertEvents':
      return reader.alertEvents(task.query);
  }
}

const port = parentPort;
if (port === null) throw new Error('reader-worker.ts runs as a worker thread');
port.on('message', ({ id, task }: { id: number; task: ReaderTask }) => {
  let reply: ReaderReply;
  try {
    reply = { id, ok: true, result: run(task) };
  } catch (err) {
    const e = err as { message?: string; code?: string };
    reply = { id, ok: false, message: e.message ?? String(err), code: e.code };
  }
  port.postMessage(reply);
});
