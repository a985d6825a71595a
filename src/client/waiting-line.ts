import { NexoError } from '../errors.js';
import type { ClientConnection, Pending } from './connection.js';

/** A request waiting to be sent. */
interface WaitingRequest {
  kind: 'request';
  service: string;
  method: string;
  args: unknown;
  deadline: number;
  requestId?: string | undefined;
  resolve(value: unknown): void;
  reject(error: NexoError): void;
  /** Set when a signal may cancel it after it was sent. */
  sent?: (conn: ClientConnection, id: number) => void;
}

/** Something waiting for a usable connection (or a free in-flight slot on it). */
type Waiting =
  | WaitingRequest
  | { kind: 'resend'; pending: Pending }
  | { kind: 'ready'; resolve(): void; reject(error: NexoError): void };

/**
 * What a client holds while it has no usable connection or no free in-flight slot: new requests, requests a
 * lost connection left unprocessed (sent again first, §7.3), and callers waiting for a connection. Taken in
 * order as slots free up.
 */
export class WaitingLine {
  readonly #items: Waiting[] = [];

  get length(): number {
    return this.#items.length;
  }

  /** A request waits; with a `signal`, cancelling works while it waits here and once sent (CANCEL frame, §6.6). */
  addRequest(request: Omit<WaitingRequest, 'kind' | 'sent'>, signal: AbortSignal | undefined): void {
    const { resolve, reject } = request;
    const waiting: WaitingRequest = { kind: 'request', ...request };
    if (signal !== undefined) {
      let sent: { conn: ClientConnection; id: number } | undefined;
      const onAbort = () => {
        if (sent !== undefined) {
          sent.conn.cancel(sent.id);
          return;
        }
        const i = this.#items.indexOf(waiting);
        if (i !== -1) this.#items.splice(i, 1);
        reject(new NexoError('CANCELLED', 'cancelled'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      waiting.resolve = (v) => {
        done();
        resolve(v);
      };
      waiting.reject = (e) => {
        done();
        reject(e);
      };
      waiting.sent = (conn, id) => {
        sent = { conn, id };
      };
    }
    this.#items.push(waiting);
  }

  /** Resolves when a connection is usable (the next `dispatch`), rejects when the client gives up. */
  ready(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#items.push({ kind: 'ready', resolve, reject }));
  }

  /** A request a lost connection left unprocessed: it goes first on the next connection. */
  resendLater(pending: Pending): void {
    this.#items.unshift({ kind: 'resend', pending });
  }

  /** Sends what waits on `conn` (usable), as far as its in-flight slots allow. */
  dispatch(conn: ClientConnection): void {
    const max = conn.welcome.limits.maxInFlight;
    while (this.#items.length > 0 && (this.#items[0]!.kind === 'ready' || conn.inFlight < max)) {
      const w = this.#items.shift()!;
      if (w.kind === 'ready') {
        w.resolve();
      } else if (w.kind === 'resend') {
        conn.resend(w.pending);
      } else {
        const result = conn.send(w.service, w.method, w.args, w.deadline, undefined, w.requestId);
        w.sent?.(conn, conn.lastId);
        result.then(w.resolve, w.reject);
      }
    }
  }

  rejectAll(error: NexoError): void {
    for (const w of this.#items.splice(0)) {
      if (w.kind === 'resend') w.pending.reject(error);
      else w.reject(error);
    }
  }

  /** Fails the requests whose deadline passed, each with a fresh `timeoutError()`. */
  expire(now: number, timeoutError: () => NexoError): void {
    for (let i = this.#items.length - 1; i >= 0; i--) {
      const w = this.#items[i]!;
      if (w.kind === 'ready') continue;
      const deadline = w.kind === 'request' ? w.deadline : w.pending.deadline;
      if (deadline === 0 || now < deadline) continue;
      this.#items.splice(i, 1);
      const error = timeoutError();
      if (w.kind === 'request') w.reject(error);
      else w.pending.reject(error);
    }
  }
}
