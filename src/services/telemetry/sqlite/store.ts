import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { NexoError } from '../../../errors.js';
import type { AlertEvent, AlertRule } from '../../../wire/telemetry.js';
import type { CommitBatch, CommitResult } from '../batch.js';
import type {
  AlertEventQuery,
  BucketColumns,
  BucketQuery,
  DefinedSensor,
  MetricDefinition,
  PruneResult,
  RawQuery,
  ReadingsPage,
  SensorDefinition,
  StoreSnapshot,
  TelemetryStore,
} from '../store.js';
import { ReaderPool } from './reader-pool.js';
import type { ReaderTask } from './reader-worker.js';
import { threadEntry } from './thread-entry.js';
import type { WriterReply, WriterRequest } from './writer-protocol.js';

export interface SqliteStoreOptions {
  /** The database file. */
  file: string;
  log: Logger;
  /** Reader threads (queries run in parallel up to this). */
  readers: number;
  /** A query still running after this is stopped (its thread is terminated) with TIMEOUT. */
  queryTimeoutMs: number;
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void };

/** Distributes the WriterRequest union over its members, minus the id the store adds. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The embedded telemetry store: one SQLite file in WAL mode. Writes go to a writer thread that owns the only
 * write connection (writer-worker.ts); queries go to reader threads with read-only connections. The event
 * loop only posts messages, so neither an fsync nor a scan over millions of rows ever blocks it.
 */
export class SqliteTelemetryStore implements TelemetryStore {
  readonly #options: SqliteStoreOptions;
  #writer: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #readers: ReaderPool | undefined;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.#options = options;
  }

  get file(): string {
    return this.#options.file;
  }

  async open(): Promise<StoreSnapshot> {
    await mkdir(path.dirname(this.#options.file), { recursive: true });
    return (await this.#call({ op: 'open' })) as StoreSnapshot;
  }

  async define(sensor: SensorDefinition, metrics: MetricDefinition[]): Promise<DefinedSensor> {
    return (await this.#call({ op: 'define', sensor, metrics })) as DefinedSensor;
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    // Copied, not transferred: the service still reads the batch after the commit (watchers, alerts).
    return (await this.#call({ op: 'commit', batch })) as CommitResult;
  }

  async readings(query: RawQuery): Promise<ReadingsPage> {
    return (await this.#read({ path: this.#options.file, op: 'readings', query })) as ReadingsPage;
  }

  async buckets(query: BucketQuery): Promise<BucketColumns> {
    return (await this.#read({ path: this.#options.file, op: 'buckets', query })) as BucketColumns;
  }

  async saveRule(rule: Omit<AlertRule, 'id'>): Promise<number> {
    return (await this.#call({ op: 'saveRule', rule })) as number;
  }

  async deleteRule(ruleId: number): Promise<boolean> {
    return (await this.#call({ op: 'deleteRule', ruleId })) as boolean;
  }

  async appendAlertEvents(events: AlertEvent[]): Promise<void> {
    await this.#call({ op: 'alertEvents', events });
  }

  async alertEvents(query: AlertEventQuery): Promise<AlertEvent[]> {
    return (await this.#read({ path: this.#options.file, op: 'alertEvents', query })) as AlertEvent[];
  }

  async prune(cutoff: number): Promise<PruneResult> {
    const result = (await this.#call({ op: 'prune', cutoff })) as {
      deleted: [number, number][];
      total: number;
    };
    return { deleted: new Map(result.deleted), total: result.total };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const readers = this.#readers;
    this.#readers = undefined;
    await readers?.destroy();
    if (this.#writer !== undefined) {
      try {
        await this.#call({ op: 'close' }, [], true);
      } catch (err) {
        this.#options.log.warn({ err }, 'telemetry store did not close cleanly');
      }
      await this.#writer?.terminate();
      this.#writer = undefined;
    }
  }

  // ---- writer thread --------------------------------------------------------------------------------

  #call(request: WithoutId<WriterRequest>, transfer: ArrayBuffer[] = [], closing = false): Promise<unknown> {
    if (this.#closed && !closing) {
      return Promise.reject(new NexoError('TELEMETRY_STORAGE', 'the telemetry store is closed'));
    }
    const worker = this.#writer ?? this.#startWriter();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id }, transfer);
    });
  }

  #startWriter(): Worker {
    const worker = new Worker(threadEntry('writer-worker'), { workerData: { path: this.#options.file } });
    worker.on('message', (reply: WriterReply) => {
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(storageError(reply.message, reply.code));
    });
    const lost = (reason: string) => {
      if (this.#writer !== worker) return;
      this.#writer = undefined; // the next call starts a fresh writer on the same file
      const error = new NexoError('TELEMETRY_STORAGE', `the telemetry writer stopped: ${reason}`);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
      if (!this.#closed) this.#options.log.error({ reason }, 'telemetry writer thread stopped');
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.#writer = worker;
    return worker;
  }

  // ---- reader threads -------------------------------------------------------------------------------

  async #read(task: ReaderTask): Promise<unknown> {
    if (this.#closed) throw new NexoError('TELEMETRY_STORAGE', 'the telemetry store is closed');
    this.#readers ??= new ReaderPool(
      threadEntry('reader-worker'),
      this.#options.readers,
      this.#options.readers * 32,
    );
    try {
      return await this.#readers.run(task, this.#options.queryTimeoutMs);
    } catch (err) {
      if (err instanceof NexoError) throw err;
      throw storageError((err as Error).message, (err as { code?: string }).code);
    }
  }
}

/** SQLite failures as errors a user can act on; nothing was acknowledged when a commit fails. */
function storageError(message: string, code: string | undefined): NexoError {
  if (code === 'SQLITE_FULL') {
    return new NexoError('TELEMETRY_STORAGE', 'the disk holding the telemetry store is full', { code });
  }
  return new NexoError('TELEMETRY_STORAGE', `the telemetry store failed: ${message}`, {
    ...(code === undefined ? {} : { code }),
  });
}
