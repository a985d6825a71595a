import type { AnyErrorCode } from '../errors.js';

/** Exit codes of every `nexo` command, so scripts can tell failures apart (README, CLI reference). */
export const EXIT = {
  OK: 0,
  /** The server answered with an error (bad expression, invalid args...). */
  REQUEST_FAILED: 1,
  /** Bad flags, arguments or configuration. */
  USAGE: 2,
  /** No nexo server could be reached, or it went away. */
  UNREACHABLE: 3,
  /** The server refused our token or role. */
  DENIED: 4,
  /** Interrupted (Ctrl-C). */
  INTERRUPTED: 130,
} as const;

const UNREACHABLE = new Set<AnyErrorCode>([
  'CONNECTION_REFUSED',
  'CONNECTION_LOST',
  'NOT_NEXO',
  'HANDSHAKE_TIMEOUT',
  'SERVER_BUSY',
  'SHUTTING_DOWN',
  'HEARTBEAT_TIMEOUT',
  'IDLE_TIMEOUT',
  'SLOW_CONSUMER',
  'TIMEOUT',
  'UNSUPPORTED_VERSION',
]);

export function exitCodeFor(code: AnyErrorCode): number {
  if (code === 'AUTH_FAILED' || code === 'FORBIDDEN' || code === 'TOKEN_REVOKED') return EXIT.DENIED;
  if (UNREACHABLE.has(code)) return EXIT.UNREACHABLE;
  return EXIT.REQUEST_FAILED;
}
