import type { CallContext, ChunkSource } from '../contract/service.js';
import type { Session } from '../contract/session.js';
import type { NexoError } from '../errors.js';
import type { ChunkQueue } from './chunk-queue.js';
import type { ResolvedMethod } from './dispatcher.js';

/** What a connection (binary or text) offers the calls running on it. */
export interface CallSink {
  progress(id: number, value: unknown): void;
  /** Returns false when the peer is behind (see CallContext.emit). */
  event(id: number, value: unknown): boolean;
  chunk(id: number, bytes: Uint8Array, end: boolean): Promise<void>;
  whenWritable(): Promise<void>;
}

/**
 * The state of one open request. Kept small: it is allocated for every request on the hot path, and the
 * AbortController only exists if a handler asks for the signal.
 */
export class Call implements CallContext {
  #controller: AbortController | undefined;
  /** A final RESPONSE or ERROR was sent (or the call was cancelled): later results are dropped. */
  final = false;
  /** The handler returned or threw. */
  settled = false;
  /** Counted against the busy limit while the handler runs (not uploads or subscriptions). */
  readonly busy: boolean;
  /** When its frame was read (`performance.now()`), for the method's latency histogram. */
  startedAt = 0;
  /** §6.1.4 The client's own id for this request, put in its ERROR's details. */
  requestId: string | undefined = undefined;

  constructor(
    readonly id: number,
    readonly method: ResolvedMethod,
    readonly session: Session,
    private readonly sink: CallSink,
    readonly input: (ChunkSource & ChunkQueue) | undefined,
  ) {
    this.busy = input === undefined && method.definition.longLived !== true;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  get longLived(): boolean {
    return this.method.definition.longLived === true;
  }

  abort(reason: NexoError): void {
    this.final = true;
    this.input?.fail(reason);
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
    }
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  progress(value: unknown): void {
    if (!this.final) this.sink.progress(this.id, value);
  }

  emit(value: unknown): boolean {
    return this.final ? false : this.sink.event(this.id, value);
  }

  whenWritable(): Promise<void> {
    return this.sink.whenWritable();
  }

  sendChunk(bytes: Uint8Array, end = false): Promise<void> {
    if (this.final) return Promise.reject(this.signal.reason ?? new Error('call is over'));
    return this.sink.chunk(this.id, bytes, end);
  }
}
