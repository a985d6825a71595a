/**
 * The writer thread: owns the store's only write connection, so fsyncs and index updates never run on the
 * event loop. Messages are handled one at a time, in order; retention deletes run a chunk at a time between
 * them, so a commit never waits behind a long delete.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SqliteWriter } from './writer.js';
import type { WriterReply, WriterRequest } from './writer-protocol.js';

const port = parentPort;
if (port === null) throw new Error('writer-worker.ts runs as a worker thread');

const { path } = workerData as { path: string };
const writer = new SqliteWriter(new Database(path));

/** Readings deleted per retention transaction: small enough that a commit waits a few ms at most. */
const PRUNE_CHUNK = 5000;

function reply(message: WriterReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function fail(id: number, err: unknown): void {
  const e = err as { message?: string; code?: string };
  reply({ id, ok: false, message: e.message ?? String(err), code: e.code });
}

/** Runs a retention pass one chunk per turn of this thread's event loop. */
function prune(id: number, cutoff: number): void {
  const pending = writer.seriesOlderThan(cutoff);
  const deleted: [number, number][] = [];
  let total = 0;
  let current = 0;
  const step = () => {
    try {
      while (current < pending.length) {
        const series = pending[current]!;
        const n = writer.pruneChunk(series, cutoff, PRUNE_CHUNK);
        if (n > 0) {
          const last = deleted.at(-1);
          if (last !== undefined && last[0] === series) last[1] += n;
          else deleted.push([series, n]);
          total += n;
        }
        if (n < PRUNE_CHUNK) current++;
        setImmediate(step); // let queued commits go first
        return;
      }
      writer.pruneAlertEvents(cutoff);
      reply({ id, ok: true, result: { deleted, total } });
    } catch (err) {
      fail(id, err);
    }
  };
  step();
}

port.on('message', (request: WriterRequest) => {
  const { id } = request;
  try {
    switch (request.op) {
      case 'open':
        reply({ id, ok: true, result: writer.snapshot() });
        return;
      case 'commit': {
        const result = writer.commit(request.batch);
        const transfer = [result.fresh.buffer as ArrayBuffer];
        if (result.assigned !== undefined) transfer.push(result.assigned.buffer as ArrayBuffer);
        reply({ id, ok: true, result }, transfer);
        return;
      }
      case 'define':
        reply({ id, ok: true, result: writer.define(request.sensor, request.metrics) });
        return;
      case 'saveRule':
        reply({ id, ok: true, result: writer.saveRule(request.rule) });
        return;
      case 'deleteRule':
        reply({ id, ok: true, result: writer.deleteRule(request.ruleId) });
        return;
      case 'alertEvents':
        writer.appendAlertEvents(request.events);
        reply({ id, ok: true, result: undefined });
        return;
      case 'prune':
        prune(id, request.cutoff);
        return;
      case 'close':
        writer.checkpoint();
        writer.close();
        reply({ id, ok: true, result: undefined });
        port.close();
        return;
    }
  } catch (err) {
    fail(id, err);
  }
});
