import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** §13.1.3 A cookie: u32 epoch (seconds since 1970 / EPOCH_SECONDS) then 16 bytes of HMAC-SHA-256. */
export const COOKIE_SIZE = 20;
/** A cookie's epoch lasts this long; the current and the previous epoch are accepted (30..60 s). */
const EPOCH_SECONDS = 30;

/**
 * Stateless return-routability cookies (spec §13.1.3), as DTLS's HelloVerifyRequest: the node answers a
 * first datagram with a MAC over the sender's address, port and a context, and keeps nothing. A peer that
 * sends the cookie back proves it receives datagrams at that address, so only then is a larger reply sent
 * or any state kept. The key is random per node process and never leaves it.
 */
export class CookieJar {
  readonly #key: Buffer;
  readonly #clock: () => number;

  constructor(key: Buffer = randomBytes(32), clock: () => number = Date.now) {
    this.#key = key;
    this.#clock = clock;
  }

  /** A cookie for `address:port` in `context` (the text mode and the secure handshake use different ones). */
  issue(address: string, port: number, context: string): Buffer {
    const epoch = Math.floor(this.#clock() / 1000 / EPOCH_SECONDS) >>> 0;
    const out = Buffer.allocUnsafe(COOKIE_SIZE);
    out.writeUInt32BE(epoch, 0);
    this.#mac(epoch, address, port, context).copy(out, 4);
    return out;
  }

  /** True when `cookie` was issued by this node to `address:port` for `context` within the last 30-60 s. */
  check(cookie: Uint8Array, address: string, port: number, context: string): boolean {
    if (cookie.length !== COOKIE_SIZE) return false;
    const view = Buffer.from(cookie.buffer, cookie.byteOffset, cookie.byteLength);
    const epoch = view.readUInt32BE(0);
    const now = Math.floor(this.#clock() / 1000 / EPOCH_SECONDS) >>> 0;
    if (epoch !== now && epoch !== (now - 1) >>> 0) return false;
    return timingSafeEqual(view.subarray(4), this.#mac(epoch, address, port, context));
  }

  #mac(epoch: number, address: string, port: number, context: string): Buffer {
    return createHmac('sha256', this.#key)
      .update(`${context}\0${address}\0${port}\0${epoch}`)
      .digest()
      .subarray(0, COOKIE_SIZE - 4);
  }
}
