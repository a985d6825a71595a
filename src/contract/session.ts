import type { PeerInfo } from '../transport/types.js';

/** Who a session is: its role, and what the role was granted for. */
export interface Identity {
  readonly role: string;
  /** A stored token's name or a client certificate's CN: whom `sensor`-scoped rules compare with (§5.4). */
  readonly principal?: string | undefined;
  /** Digest of the stored token the session logged in with; a revoked one ends it (§5.1.5). */
  readonly tokenHash?: string | undefined;
}

export type SessionMode = 'binary' | 'text' | 'http';

/**
 * What services may know about the connection a call came from. The same shape for binary and text mode,
 * whatever the transport.
 */
export class Session {
  /** Per-session role from the handshake (`anonymous` without a token). */
  role = 'anonymous';
  /** A stored token's name or a client certificate's CN (§5.4 scoped rules). */
  principal: string | undefined;
  /** The stored token the session logged in with, by digest (§5.1.5 revocation). */
  tokenHash: string | undefined;
  /** Name the client gave in HELLO. */
  clientName: string | undefined;
  readonly openedAt = Date.now();
  /** Made by the first onClose(): most sessions never subscribe or join anything. */
  #closeHooks: (() => void)[] | undefined;
  #closed = false;

  constructor(
    readonly id: number,
    readonly peer: PeerInfo,
    readonly mode: SessionMode,
  ) {}

  /** Takes the role (and what it was granted for) from an authentication. */
  identify(identity: Identity): void {
    this.role = identity.role;
    this.principal = identity.principal;
    this.tokenHash = identity.tokenHash;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `hook` once when the connection ends (a chat service leaves its rooms, say). */
  onClose(hook: () => void): void {
    if (this.#closed) hook();
    else if (this.#closeHooks === undefined) this.#closeHooks = [hook];
    else this.#closeHooks.push(hook);
  }

  /** Called by the connection when it ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const hooks = this.#closeHooks ?? [];
    this.#closeHooks = undefined;
    for (const hook of hooks) {
      try {
        hook();
      } catch {
        // A failing hook must not keep the others from running.
      }
    }
  }
}
