import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { type AnyErrorCode, NexoError, toNexoError } from '../errors.js';

/** The body of every HTTP error the node sends: the same {code, message, details} as an ERROR frame. */
export function errorBody(error: NexoError): { error: ReturnType<NexoError['toPayload']> } {
  return { error: error.toPayload() };
}

/** Sends `error` with the HTTP status of its code (src/errors.ts). */
export function sendError(reply: FastifyReply, error: NexoError): FastifyReply {
  if (error.code === 'AUTH_FAILED') reply.header('www-authenticate', 'Bearer');
  if (error.retryable) reply.header('retry-after', '1');
  return reply.code(error.status).type('application/json; charset=utf-8').send(errorBody(error));
}

/** Framework errors (body parsing, limits) as nexo errors with a stable code and a message a person can use. */
const FRAMEWORK_CODES: Record<string, [AnyErrorCode, (limit: number) => string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [
    'PAYLOAD_TOO_LARGE',
    (limit) => `the request body is larger than ${limit} bytes (--http-body-limit)`,
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    'BAD_REQUEST',
    () => 'the request body does not match its Content-Length header',
  ],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'UNSUPPORTED_MEDIA_TYPE',
    () => 'send the arguments as JSON (Content-Type: application/json)',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: [
    'BAD_REQUEST',
    () => 'the body is empty but Content-Type says JSON; send a JSON value or no Content-Type',
  ],
  FST_ERR_CTP_INVALID_JSON_BODY: ['BAD_REQUEST', () => 'the body is not valid JSON'],
};

export function fromFrameworkError(err: unknown, bodyLimit: number): NexoError {
  if (err instanceof NexoError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  const mapped = e.code === undefined ? undefined : FRAMEWORK_CODES[e.code];
  if (mapped !== undefined) return new NexoError(mapped[0], mapped[1](bodyLimit));
  if (err instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new NexoError(
      'BAD_REQUEST',
      `the body is not valid JSON: ${err instanceof Error ? err.message : ''}`,
    );
  }
  // Paths the static files refuse (.., dotfiles) look exactly like paths with nothing behind them.
  if (e.statusCode === 403 || e.statusCode === 404) return new NexoError('NOT_FOUND', 'nothing at that path');
  // Prototype poisoning attempts and other malformed input the framework rejects with a 4xx.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new NexoError('BAD_REQUEST', String(e.message ?? 'bad request').slice(0, 200));
  }
  return toNexoError(err);
}

/**
 * A complete HTTP response for `error`, for places that answer on the raw socket before (or instead of)
 * the framework: requests too slow or malformed to parse, connections over the per-address cap.
 */
export function rawErrorResponse(error: NexoError, node: string): string {
  const body = JSON.stringify(errorBody(error));
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    'content-type: application/json; charset=utf-8\r\n' +
    // A node id is [A-Za-z0-9._:-] by configuration, or hostname:port: still, only header-safe bytes.
    `x-nexo-node: ${node.replace(/[^\x21-\x7e]/g, '')}\r\n` +
    (error.retryable ? 'retry-after: 1\r\n' : '') +
    'connection: close\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** What to answer on the socket when the request could not even be parsed (Node's 'clientError'). */
export function clientError(err: { code?: string }, requestTimeoutMs: number): NexoError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new NexoError(
        'REQUEST_TIMEOUT',
        `the request did not arrive completely within ${requestTimeoutMs} ms (--http-request-timeout)`,
      );
    case 'HPE_HEADER_OVERFLOW':
      return new NexoError('HEADERS_TOO_LARGE', 'the request headers are larger than 16 KiB');
    default:
      return new NexoError('BAD_REQUEST', 'the request is not valid HTTP/1.1');
  }
}
