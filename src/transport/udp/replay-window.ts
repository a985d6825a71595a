/**
 * §13.3.5 The receive side's replay window over packet numbers, as in IPsec and DTLS: the highest number
 * accepted, and which of the WINDOW numbers below it were seen. A number seen before, or older than the
 * window, is a replay (or hopelessly late) and is dropped.
 */
export const REPLAY_WINDOW = 1024;

export class ReplayWindow {
  #highest = -1;
  readonly #seen = new Uint8Array(REPLAY_WINDOW);

  /** True when `n` would be accepted (check before decrypting; mark only after the tag verified). */
  fresh(n: number): boolean {
    if (n > this.#highest) return true;
    if (this.#highest - n >= REPLAY_WINDOW) return false;
    return this.#seen[n % REPLAY_WINDOW] === 0;
  }

  mark(n: number): void {
    if (n > this.#highest) {
      // Clear the slots the window slides past (at most all of them).
      const from = Math.max(this.#highest + 1, n - REPLAY_WINDOW + 1);
      for (let i = from; i <= n; i++) this.#seen[i % REPLAY_WINDOW] = 0;
      this.#highest = n;
    }
    this.#seen[n % REPLAY_WINDOW] = 1;
  }
}
