import { type ClientOptions, NexoClient } from './client.js';

/** One node of a pool: its connection (a single-endpoint NexoClient) and what is open on it. */
export class Member {
  readonly client: NexoClient;
  /** Requests of the pool open on this connection. */
  pending = 0;
  /** Failed first connection attempts in a row (the client's own reconnects take over once it is up). */
  failures = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Reached at least once: from then on the client reconnects by itself. */
  reached = false;

  constructor(
    readonly endpoint: string,
    options: ClientOptions,
    /** Learnt from the membership (§14.1.4), not given: forgotten when it leaves the membership. */
    readonly discovered = false,
  ) {
    this.client = new NexoClient(options);
  }

  get healthy(): boolean {
    return this.client.state === 'open' && this.client.welcome !== undefined;
  }

  get slots(): number {
    return this.client.welcome?.limits.maxInFlight ?? 0;
  }
}

/**
 * §14.1.1 The healthy member with the fewest open requests of the pool and a free in-flight slot
 * (`ignoreSlots`: any healthy one); the search starts at `rotate` (mod the count) so ties go round the list
 * and equal nodes share the load.
 */
export function leastPending(
  members: readonly Member[],
  rotate: number,
  ignoreSlots: boolean,
): Member | undefined {
  const n = members.length;
  let best: Member | undefined;
  const start = rotate % n;
  for (let i = 0; i < n; i++) {
    const m = members[(start + i) % n]!;
    if (!m.healthy || (!ignoreSlots && m.pending >= m.slots)) continue;
    if (best === undefined || m.pending < best.pending) best = m;
  }
  return best;
}
