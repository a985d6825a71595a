import { NexoError } from '../errors.js';

/** A request of the pool, across its attempts. */
export interface Job {
  service: string;
  method: string;
  args: unknown;
  deadline: number;
  repeat: boolean;
  attemptsLeft: number;
  attempt: number;
  signal: AbortSignal | undefined;
  /** §6.1.4 The caller's id, sent with every attempt. */
  requestId: string | undefined;
  resolve(value: unknown): void;
  reject(error: NexoError): void;
}

/** Errors after which a request was certainly not processed (§7.3.2, §7.1.2): any request may go again. */
const NOT_PROCESSED = new Set(['GOING_AWAY', 'SERVER_BUSY', 'CONNECTION_REFUSED']);
/** Errors after which a request may or may not have been processed: only repeatable ones go again. */
const MAYBE_PROCESSED = new Set(['CONNECTION_LOST', 'HEARTBEAT_TIMEOUT', 'SHUTTING_DOWN']);
/** A node could not serve it now; another one may (§11 "retry"). */
const NODE_UNAVAILABLE = new Set(['STORAGE_UNAVAILABLE', 'NO_RESPONDERS']);

/**
 * §14.2.2–3 After a failed attempt on `endpoint`: `again` (send it once more), or the error to fail it with:
 * OUTCOME_UNKNOWN for a request lost with its connection that is not safe to repeat, else the error itself.
 */
export function afterFailure(
  job: Job,
  endpoint: string,
  error: NexoError,
  closed: boolean,
): 'again' | NexoError {
  const code = error.code;
  const again =
    NOT_PROCESSED.has(code) || (job.repeat && (MAYBE_PROCESSED.has(code) || NODE_UNAVAILABLE.has(code)));
  const timeLeft = job.deadline === 0 || Date.now() < job.deadline;
  if (again && job.attemptsLeft > 0 && timeLeft && !closed && !job.signal?.aborted) return 'again';
  if (!job.repeat && MAYBE_PROCESSED.has(code)) {
    return new NexoError(
      'OUTCOME_UNKNOWN',
      `${job.service}.${job.method} was sent to ${endpoint}, which was lost before it answered (${code}); it may or may not have been processed and is not safe to repeat, so it was not sent again`,
      { service: job.service, method: job.method, endpoint, cause: code },
      { cause: error },
    );
  }
  return error;
}
