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
  // Prototype poisoning attempts and other malformed input the framework rejects with a 4xx.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new NexoError('BAD_REQUEST', String(e.message ?? 'bad request').slice(0, 200));
  }
  return toNexoError(err);
}
