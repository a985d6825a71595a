import { NexoError } from '../errors.js';

/** Turns a socket error into one a person can act on. */
export function describeSocketError(
  err: Error & { code?: string },
  where: string,
  timeoutMs: number,
): NexoError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new NexoError(
        'CONNECTION_REFUSED',
        `no nexo server is listening at ${where} (start one with: nexo server --port ${where.split(':').pop()})`,
        { endpoint: where },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new NexoError('CONNECTION_REFUSED', `cannot resolve the host of ${where}: ${err.message}`, {
        endpoint: where,
      });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new NexoError('CONNECTION_REFUSED', `${where} is unreachable from here (${err.code})`, {
        endpoint: where,
      });
    default:
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        return new NexoError('CONNECTION_REFUSED', `${where} did not answer within ${timeoutMs} ms`, {
          endpoint: where,
        });
      }
      return new NexoError('CONNECTION_REFUSED', `cannot connect to ${where}: ${err.message}`, {
        endpoint: where,
      });
  }
}
