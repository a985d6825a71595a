export interface BackoffOptions {
  /** First delay, in ms. */
  initialDelayMs: number;
  /** Delays stop growing here, in ms. */
  maxDelayMs: number;
  /** Give up after this many failed attempts in a row (Infinity: never). */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 100,
  maxDelayMs: 5000,
  maxAttempts: Infinity,
};

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a fleet of clients that
 * lost the same node does not come back in one wave.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
