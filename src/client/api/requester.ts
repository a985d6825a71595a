import type { CallHandle, CallOptions, RequestOptions } from '../client.js';

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
