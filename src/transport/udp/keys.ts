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

/** The node's table: key id → key, for the configured tokens (and anonymous sensors, if allowed). */
export class KeyTable {
  readonly #byId = new Map<string, SessionKey>();

  constructor(tokens: Iterable<string>, anonymous: boolean) {
    const all = [...tokens];
    if (anonymous) all.push('');
    for (const token of all) {
      const key = keyFromToken(token);
      this.#byId.set(key.keyId.toString('hex'), key);
    }
  }

  find(keyId: Uint8Array): SessionKey | undefined {
    return this.#byId.get(Buffer.from(keyId).toString('hex'));
  }
}
