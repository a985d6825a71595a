import type { ChunkSource } from '../contract/service.js';

/**
 * The CHUNK frames of one upload, handed to its handler as an async iterable. The connection stops reading
 * the socket while `full` and resumes when the handler has consumed enough (`onDrain`), so a slow disk slows
 * the sender instead of filling memory.
 */
export class ChunkQueue implements ChunkSource {
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #ended = false;
  #error: Error | undefined;
  #waiter: ((result: IteratorResult<Uint8Array>) => void) | undefined;
  #waiterReject: ((err: Error) => void) | undefined;

  constructor(
    readonly highWater: number,
    private readonly onDrain: () => void,
  ) {}

  get bufferedBytes(): number {
    return this.#bytes;
  }

  get full(): boolean {
    return this.#bytes >= this.highWater;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(chunk: Uint8Array): void {
    if (this.#ended || this.#error) return;
    if (this.#waiter) {
      const resolve = this.#waiter;
      this.#clearWaiter();
      resolve({ value: chunk, done: false });
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#waiter && this.#chunks.length === 0) {
      const resolve = this.#waiter;
      this.#clearWaiter();
      resolve({ value: undefined, done: true });
    }
  }

  fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#chunks = [];
    this.#bytes = 0;
    if (this.#waiterReject) {
      const reject = this.#waiterReject;
      this.#clearWaiter();
      reject(err);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        if (this.#error) return Promise.reject(this.#error);
        const chunk = this.#chunks.shift();
        if (chunk !== undefined) {
          const wasFull = this.full;
          this.#bytes -= chunk.length;
          if (wasFull && !this.full) this.onDrain();
          return Promise.resolve({ value: chunk, done: false });
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#waiter = resolve;
          this.#waiterReject = reject;
        });
      },
      return: () => {
        this.fail(new Error('chunk reader closed'));
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  #clearWaiter(): void {
    this.#waiter = undefined;
    this.#waiterReject = undefined;
  }
}
