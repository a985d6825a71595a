import type { Requester, RequestOptions } from './requester.js';

/** Typed calls of the echo service. */
export function echoApi(r: Requester) {
  return {
    echo: <T>(value: T, options?: RequestOptions) => r.request<T>('echo', 'echo', value, options),
  };
}
