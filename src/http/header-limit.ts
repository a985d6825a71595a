import type { IncomingMessage } from 'node:http';
import { NexoError } from '../errors.js';

/** docs/http.md "Limits": the request line and headers of one request, in bytes. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * The size of a request's head as it is sent in canonical form: the request line, each header as
 * `name: value\r\n`, and the blank line. Node's own `maxHeaderSize` counts only the names and values, so 2000
 * short headers (`h001: 1234`) came through at ~24 KB on the wire; this counts what the node keeps, the same
 * way for every request. Needs `maxHeadersCount: 0` on the server, or rawHeaders stops at 2000.
 */
export function headBytes(request: IncomingMessage): number {
  let bytes = (request.method?.length ?? 0) + (request.url?.length ?? 0) + 'HTTP/1.1'.length + 4;
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) bytes += raw[i]!.length + raw[i + 1]!.length + 4;
  return bytes + 2;
}

/** `HEADERS_TOO_LARGE` when the head exceeds MAX_HEADER_BYTES, else undefined. */
export function headerLimitError(request: IncomingMessage): NexoError | undefined {
  const bytes = headBytes(request);
  if (bytes <= MAX_HEADER_BYTES) return undefined;
  return new NexoError(
    'HEADERS_TOO_LARGE',
    `the request line and headers (${bytes} bytes) are larger than 16 KiB`,
    { limit: MAX_HEADER_BYTES },
  );
}
