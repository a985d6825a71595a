import { createHash } from 'node:crypto';
import { NexoError } from '../errors.js';

/**
 * §5.1 Maps HELLO tokens to roles. Tokens are kept only as SHA-256 digests, so the lookup does not compare
 * secrets byte by byte and a heap dump does not show them.
 */
export class Authenticator {
  readonly #roles = new Map<string, string>();

  constructor(
    tokens: Record<string, string>,
    readonly allowAnonymous: boolean,
  ) {
    for (const [token, role] of Object.entries(tokens)) this.#roles.set(digest(token), role);
  }

  /** The role for a token; `anonymous` without one. Throws AUTH_FAILED. */
  authenticate(token: string | undefined): string {
    if (token === undefined || token === '') {
      if (this.allowAnonymous) return 'anonymous';
      throw new NexoError('AUTH_FAILED', 'this node requires a token (nexo --token or NEXO_TOKEN)');
    }
    const role = this.#roles.get(digest(token));
    if (role === undefined) throw new NexoError('AUTH_FAILED', 'unknown token');
    return role;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
