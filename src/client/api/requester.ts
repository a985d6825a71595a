import type { CallHandlers } from '../connection.js';

export interface RequestOptions {
  /** ms; overrides the client default; 0 = none. */
  timeout?: number;
  signal?: AbortSignal;
  /**
   * Protocol §6.1.4: an id of the caller's own (1-64 printable ASCII characters), sent with the request; an
   * error reply carries it in `details.requestId`, and the node logs it with an INTERNAL_ERROR.
   */
  requestId?: string;
}

export interface CallOptions extends RequestOptions, CallHandlers {}

/** An open call with streams: chunks out, events/chunks in, one final result. */
export interface CallHandle<R = unknown> {
  readonly id: number;
  readonly result: Promise<R>;
  /** Sends requests on the connection that carries this call (chat.say needs its join's connection). */
  readonly via: Requester;
  /** Streams a CHUNK to the server; resolves when the socket can take more. */
  write(bytes: Uint8Array): Promise<void>;
  /** Sends the last CHUNK (flag END). */
  end(bytes?: Uint8Array): Promise<void>;
  cancel(): void;
  /**
   * Stops reading the connection (every call on it waits) until `resume()`: a download whose disk is slower
   * than the network uses it, so bytes wait in the server instead of filling this process's memory.
   */
  pause(): void;
  resume(): void;
}

/** What a typed service facade needs from a client. One file per service in this folder. */
export interface Requester {
  request<R = unknown>(service: string, method: string, args?: unknown, options?: RequestOptions): Promise<R>;
}

/** A Requester that can also open calls with streams and events (subscriptions, transfers). */
export interface Caller extends Requester {
  /** `closed` once the client is closed for good: a resumed subscription stops trying then (§14.3). */
  readonly state?: string;
  call<R = unknown>(
    service: string,
    method: string,
    args: unknown,
    options?: CallOptions,
  ): Promise<CallHandle<R>>;
}
