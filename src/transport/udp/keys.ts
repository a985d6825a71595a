import { createHash, hkdfSync } from 'node:crypto';
import { KEY_ID_SIZE } from './wire.js';

/**
 * §13.3.3 Pre-shared keys of secure sessions, derived from the sensor's token: the node needs only the
 * token's SHA-256 (what it keeps to check HELLO tokens, §5.1), never the token itself. The empty token is
 * the key of anonymous sensors, accepted only while the node admits anonymous clients.
 */
export interface SessionKey {
  readonly keyId: Buffer;
  readonly psk: Buffer;
}

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** PSK = HKDF-SHA-256(ikm = SHA-256(token), salt = "nexo udp 1", info = "psk"), 32 bytes. */
export function keyFromDigest(digest: Uint8Array): SessionKey {
  const psk = Buffer.from(hkdfSync('sha256', digest, 'nexo udp 1', 'psk', 32));
  const keyId = Buffer.from(hkdfSync('sha256', digest, 'nexo udp 1', 'key id', KEY_ID_SIZE));
  return { keyId, psk };
}

export function keyFromToken(token: string | undefined): SessionKey {
  return keyFromDigest(tokenDigest(token ?? ''));
}

/**
 * The node's table: key id → key, for the tokens it accepts (and anonymous sensors, if allowed). Built from
 * the tokens' SHA-256 digests, so a store that keeps only digests can feed it; `replace` swaps the whole
 * table when tokens are created or revoked (keys of unchanged tokens are reused, not derived again).
 */
export class KeyTable {
  #byId = new Map<string, SessionKey>();
  #byDigest = new Map<string, SessionKey>();

  constructor(tokens: Iterable<string>, anonymous: boolean) {
    this.replace(
      [...tokens].map((t) => tokenDigest(t)),
      anonymous,
    );
  }

  replace(digests: Iterable<Uint8Array>, anonymous: boolean): void {
    const all = [...digests];
    if (anonymous) all.push(tokenDigest(''));
    const byId = new Map<string, SessionKey>();
    const byDigest = new Map<string, SessionKey>();
    for (const digest of all) {
      const hex = Buffer.from(digest).toString('hex');
      const key = this.#byDigest.get(hex) ?? keyFromDigest(digest);
      byDigest.set(hex, key);
      byId.set(key.keyId.toString('hex'), key);
    }
    this.#byId = byId;
    this.#byDigest = byDigest;
  }

  get size(): number {
    return this.#byId.size;
  }

  find(keyId: Uint8Array): SessionKey | undefined {
    return this.#byId.get(Buffer.from(keyId).toString('hex'));
  }
}
