import type { RequestOptions } from '../client.js';

/** What a typed service facade needs from a client. One file per service in this folder. */
export interface Requester {
  request<R = unknown>(service: string, method: string, args?: unknown, options?: RequestOptions): Promise<R>;
}
