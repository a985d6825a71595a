/**
 * Which PostgreSQL failures are worth another try, and which mean the engine is away. The classes follow
 * PostgreSQL's SQLSTATE appendix: 08 connection exception, 57P01-03 the server is shutting down or starting,
 * 53300 too many connections; 40001/40P01 are a transaction that lost a race (the engine itself is fine).
 */

const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const CONFLICT_STATES = new Set(['40001', '40P01']);
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);
// pg reports a dropped or unreachable server with plain Errors; these are its messages (pg 8, pg-pool 3).
const DROPPED_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection is closed',
  'the database system is',
];

export type Failure = 'unavailable' | 'conflict' | 'other';

export function classify(err: unknown): Failure {
  if (err === null || typeof err !== 'object') return 'other';
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (err instanceof AggregateError) {
    // Node's happy-eyeballs connect (::1 and 127.0.0.1) fails with every address's error at once.
    return err.errors.some((inner) => classify(inner) === 'unavailable') ? 'unavailable' : 'other';
  }
  if (typeof e.code === 'string') {
    if (SOCKET_CODES.has(e.code) || e.code.startsWith('08') || UNAVAILABLE_STATES.has(e.code)) {
      return 'unavailable';
    }
    if (CONFLICT_STATES.has(e.code)) return 'conflict';
  }
  const message = typeof e.message === 'string' ? e.message : '';
  return DROPPED_MESSAGES.some((m) => message.includes(m)) ? 'unavailable' : 'other';
}

/** A one-line reason: an AggregateError's message is empty, its addresses' errors say what happened. */
export function reason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map(reason))].join('; ');
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const message = err.message.split('\n')[0] ?? '';
    if (message !== '') return message;
    return typeof code === 'string' ? code : err.name;
  }
  return String(err).split('\n')[0] ?? '';
}
