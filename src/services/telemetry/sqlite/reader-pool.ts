import { Worker } from 'node:worker_threads';
import { NexoError } from '../../../errors.js';

interface Job {
  task: unknown;
  timeoutMs: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  job: (Job & { id: number; timer: NodeJS.Timeout }) | undefined;
}

export type ReaderReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string; code: string | undefined };

/**
 * A few reader threads for queries. Each keeps its read-only SQLite connection between queries. A query that
 * runs past its time limit cannot be interrupted inside SQLite, so its thread is terminated and replaced; the
 * queue in front of the threads is bounded.
 */
export class ReaderPool {
  readonly #entry: URL;
  readonly #size: number;
  readonly #maxQueue: number;
  readonly #threads: Thread[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(entry: URL, size: number, maxQueue: number) {
    this.#entry = entry;
    this.#size = size;
    this.#maxQueue = maxQueue;
  }

  run(task: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closed)
      return Promise.reject(new NexoError('TELEMETRY_STORAGE', 'the telemetry store is closed'));
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new NexoError('SERVER_BUSY', 'too many telemetry queries are waiting; try again shortly'),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ task, timeoutMs, resolve, reject });
      this.#dispatch();
    });
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    const closed = new NexoError('TELEMETRY_STORAGE', 'the telemetry store is closed');
    for (const job of this.#queue.splice(0)) job.reject(closed);
    await Promise.all(
      this.#threads.splice(0).map((t) => {
        if (t.job !== undefined) {
          clearTimeout(t.job.timer);
          t.job.reject(closed);
        }
        return t.worker.terminate();
      }),
    );
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let thread = this.#threads.find((t) => t.job === undefined);
      if (thread === undefined) {
        if (this.#threads.length >= this.#size) return;
        thread = this.#spawn();
      }
      const job = this.#queue.shift()!;
      const id = this.#nextId++;
      const current = thread;
      const timer = setTimeout(() => {
        this.#remove(current);
        job.reject(
          new NexoError(
            'TIMEOUT',
            `the query ran past ${job.timeoutMs} ms and was stopped; ask for a shorter range or larger buckets`,
          ),
        );
        void current.worker.terminate();
        this.#dispatch();
      }, job.timeoutMs);
      current.job = { ...job, id, timer };
      current.worker.postMessage({ id, task: job.task });
    }
  }

  #spawn(): Thread {
    const thread: Thread = { worker: new Worker(this.#entry), job: undefined };
    thread.worker.on('message', (reply: ReaderReply) => {
      const job = thread.job;
      if (job === undefined || job.id !== reply.id) return;
      clearTimeout(job.timer);
      thread.job = undefined;
      if (reply.ok) job.resolve(reply.result);
      else job.reject(Object.assign(new Error(reply.message), { code: reply.code }));
      this.#dispatch();
    });
    const lost = (reason: string) => {
      if (!this.#remove(thread)) return;
      const job = thread.job;
      if (job !== undefined) {
        clearTimeout(job.timer);
        job.reject(new NexoError('TELEMETRY_STORAGE', `a telemetry reader thread stopped: ${reason}`));
      }
      this.#dispatch();
    };
    thread.worker.on('error', (err) => lost(err.message));
    thread.worker.on('exit', (code) => lost(`exit code ${code}`));
    thread.worker.unref();
    this.#threads.push(thread);
    return thread;
  }

  #remove(thread: Thread): boolean {
    const i = this.#threads.indexOf(thread);
    if (i === -1) return false;
    this.#threads.splice(i, 1);
    return true;
  }
}
