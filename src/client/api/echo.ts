import type { RequestOptions } from '../client.js';
import type { Requester } from './requester.js';

/** Typed calls of the echo service. */
export function echoApi(r: Requester) {
  return {
    echo: <T>(value: T, options?: RequestOptions) => r.request<T>('echo', 'echo', value, options),
  };
}
