/**
 * §13.1.2 The anti-amplification budget: one counter for all peers whose address is not verified, so the
 * node keeps no state per peer. Every datagram received from such a peer adds its size (up to `cap`); every
 * byte sent to such a peer is taken from it, and a reply that does not fit is not sent. Over any stretch of
 * time the node therefore sends unverified peers at most `cap` bytes more than it received from them.
 */
export class AmplificationBudget {
  #credit: number;
  /** Bytes received from and sent to unverified peers, for tests and stats. */
  bytesIn = 0;
  bytesOut = 0;
  /** Replies that did not fit. */
  refused = 0;

  constructor(readonly cap: number) {
    this.#credit = cap;
  }

  get credit(): number {
    return this.#credit;
  }

  /** A datagram of `bytes` arrived from an unverified peer. */
  received(bytes: number): void {
    this.bytesIn += bytes;
    this.#credit = Math.min(this.cap, this.#credit + bytes);
  }

  /** Takes `bytes` for a reply if the budget allows it. */
  take(bytes: number): boolean {
    if (bytes > this.#credit) {
      this.refused++;
      return false;
    }
    this.#credit -= bytes;
    this.bytesOut += bytes;
    return true;
  }
}
