import { NexoError } from '../../errors.js';
import { backoffDelay } from '../backoff.js';
import type { Caller } from './requester.js';

/** §14.3.1 Ends of a subscription that mean its node or connection went away, not that it was refused. */
export const RESUMABLE = new Set([
  'CONNECTION_LOST',
  'HEARTBEAT_TIMEOUT',
  'SHUTTING_DOWN',
  'GOING_AWAY',
  'CONNECTION_REFUSED',
  'SERVER_BUSY',
  'STORAGE_UNAVAILABLE',
  'NO_RESPONDERS',
]);

/** §14.3.2 Attempts to open a subscription again, and the delays between them. */
export const REOPEN = { attempts: 20, initialDelayMs: 50, maxDelayMs: 1000, maxAttempts: 20 };

/**
 * Opens a subscription again after its connection was lost (§14.3): `open` is tried until it succeeds, up to
 * REOPEN.attempts times with backoff, while the client is not closed and `signal` not aborted. `alsoRetry`
 * adds codes that mean "not yet" for this subscription (chat: the old membership is still being removed).
 */
export async function reopen<T>(
  caller: Caller,
  open: () => Promise<T>,
  options: { signal?: AbortSignal | undefined; alsoRetry?: ReadonlySet<string> } = {},
): Promise<T> {
  let last: NexoError | undefined;
  for (let attempt = 0; attempt < REOPEN.attempts; attempt++) {
    if (caller.state === 'closed') break;
    if (options.signal?.aborted) throw new NexoError('CANCELLED', 'cancelled');
    try {
      return await open();
    } catch (err) {
      const error = err instanceof NexoError ? err : new NexoError('INTERNAL_ERROR', String(err));
      if (!RESUMABLE.has(error.code) && options.alsoRetry?.has(error.code) !== true) throw error;
      last = error;
    }
    await sleep(backoffDelay(attempt, REOPEN));
  }
  throw new NexoError(
    'CONNECTION_LOST',
    `could not resume after the connection was lost${last === undefined ? '' : `: ${last.message}`}`,
    last === undefined ? undefined : { cause: last.code },
    { cause: last },
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    (timer as { unref?: () => void }).unref?.();
  });
}
