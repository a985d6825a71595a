import type { Identity } from '../contract/session.js';
import { NexoError } from '../errors.js';
import { certificateIdentity } from '../security/certificate-role.js';
import type { Denials } from '../security/denials.js';
import { type TokenRecord, tokenDigest } from '../security/token-store.js';
import type { PeerInfo } from '../transport/types.js';

/**
 * §5.1 Maps HELLO tokens to roles. Tokens are kept only as SHA-256 digests, so the lookup does not compare
 * secrets byte by byte and a heap dump does not show them. Two sources: tokens of the configuration (fixed
 * for the node's life) and stored tokens (`nexo token create`, DATA_DIR/tokens.json), replaced whenever the
 * file changes.
 */
export class Authenticator {
  readonly #configured = new Map<string, string>();
  #stored = new Map<string, TokenRecord>();

  constructor(
    tokens: Record<string, string>,
    readonly allowAnonymous: boolean,
    private readonly denials?: Denials,
  ) {
    for (const [token, role] of Object.entries(tokens)) this.#configured.set(tokenDigest(token), role);
  }

  /** Throws AUTH_FAILED (logged and counted with the peer, §5.4.3). */
  authenticate(token: string | undefined, peer?: PeerInfo): Identity {
    try {
      return this.#authenticate(token, peer);
    } catch (err) {
      if (peer !== undefined) this.denials?.record('AUTH_FAILED', peer, { reason: (err as Error).message });
      throw err;
    }
  }

  #authenticate(token: string | undefined, peer: PeerInfo | undefined): Identity {
    if (token === undefined || token === '') {
      // §5.1.6 A verified client certificate stands in for a token.
      const byCertificate =
        peer?.certificate === undefined ? undefined : certificateIdentity(peer.certificate);
      if (byCertificate !== undefined) return byCertificate;
      if (this.allowAnonymous) return { role: 'anonymous' };
      throw new NexoError('AUTH_FAILED', 'this node requires a token (nexo --token or NEXO_TOKEN)');
    }
    const hash = tokenDigest(token);
    const role = this.#configured.get(hash);
    if (role !== undefined) return { role };
    const stored = this.#stored.get(hash);
    if (stored === undefined) throw new NexoError('AUTH_FAILED', 'unknown token');
    return { role: stored.role, principal: stored.name, tokenHash: hash };
  }

  /** Replaces the stored tokens (the tokens file changed). */
  setStoredTokens(records: readonly TokenRecord[]): void {
    this.#stored = new Map(records.map((r) => [r.hash, r]));
  }

  /**
   * The raw SHA-256 of every token accepted now (configured and stored): what UDP sessions derive their
   * keys from (§13.3.3), so a token created or revoked at run time opens or closes them too.
   */
  digests(): Buffer[] {
    return [...this.#configured.keys(), ...this.#stored.keys()].map(rawDigest);
  }

  /** Whether a stored token (by digest) is still valid. */
  isCurrent(tokenHash: string): boolean {
    return this.#stored.has(tokenHash);
  }
}

/** `sha256:<base64url>` (the stores' form) to the 32 bytes. */
function rawDigest(digest: string): Buffer {
  return Buffer.from(digest.slice(digest.indexOf(':') + 1), 'base64url');
}
