import { Piscina } from 'piscina';
import type { TaskName, TaskPool } from '../contract/service.js';
import { NexoError } from '../errors.js';

export interface WorkerPoolOptions {
  threads: number;
  maxMemoryMb: number;
}

/**
 * CPU-heavy work leaves the event loop here, so one client's big calculation never stalls the others.
 * A task that runs past its time limit is aborted; piscina then terminates that worker and starts a fresh
 * one, which is the only way to stop a synchronous computation. Memory is capped per worker the same way.
 */
export class WorkerPool implements TaskPool {
  readonly #piscina: Piscina;

  /**
   * `entry` is the module the threads run: it maps each task name to a pure function of a service. The node's
   * composition names it (`src/node/worker.ts`), so the server knows no service.
   */
  constructor(options: WorkerPoolOptions, entry: URL) {
    const source = entry.pathname.endsWith('.ts');
    this.#piscina = new Piscina({
      filename: entry.href,
      // One warm thread: the first heavy calculation should not also pay for starting a thread.
      minThreads: 1,
      maxThreads: options.threads,
      idleTimeout: 30_000,
      maxQueue: options.threads * 64,
      // From TypeScript sources (tests) the worker needs the tsx loader. Otherwise leave execArgv unset: Node
      // then passes on the parent's flags that are valid in a worker (an explicit list may not hold others).
      ...(source ? { execArgv: ['--import', 'tsx'] } : {}),
      resourceLimits: {
        maxOldGenerationSizeMb: options.maxMemoryMb,
        maxYoungGenerationSizeMb: Math.min(32, Math.max(4, options.maxMemoryMb >> 3)),
        stackSizeMb: 4,
      },
    });
  }

  get queued(): number {
    return this.#piscina.queueSize;
  }

  /** Runs `task` in a worker. Throws TIMEOUT past `timeoutMs`, CANCELLED when `signal` aborts. */
  async run<T>(task: TaskName, payload: unknown, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
    try {
      return (await this.#piscina.run({ task, payload }, { signal: combined })) as T;
    } catch (err) {
      if (timeout.aborted)
        throw new NexoError('TIMEOUT', `${task} ran past its ${timeoutMs} ms limit and was stopped`);
      if (signal?.aborted) throw new NexoError('CANCELLED', `${task} was cancelled`);
      if ((err as Error).message?.includes('Task queue is at limit')) {
        throw new NexoError('SERVER_BUSY', 'too many heavy calculations are waiting; try again shortly');
      }
      if ((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw new NexoError('CALC_TOO_COMPLEX', `${task} ran out of its memory limit and was stopped`);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#piscina.destroy();
  }
}
