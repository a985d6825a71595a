import type { Logger } from 'pino';
import type { PeerInfo } from '../transport/types.js';

export type DenialCode = 'FORBIDDEN' | 'AUTH_FAILED' | 'TOKEN_REVOKED' | 'TLS_HANDSHAKE';

/**
 * Every refusal on security grounds, logged with the peer and counted by code (§5.4.3). The counters are
 * plain numbers so a metrics registry can read them without this module knowing about it.
 */
export class Denials {
  readonly counts: Record<DenialCode, number> = {
    FORBIDDEN: 0,
    AUTH_FAILED: 0,
    TOKEN_REVOKED: 0,
    TLS_HANDSHAKE: 0,
  };
  #log: Logger | undefined;
  /** Told of each denial (a metrics counter, say). */
  #listeners: ((code: DenialCode) => void)[] = [];

  attach(log: Logger): void {
    this.#log = log;
  }

  onDenial(listener: (code: DenialCode) => void): void {
    this.#listeners.push(listener);
  }

  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  record(
    code: DenialCode,
    peer: Pick<PeerInfo, 'address' | 'port' | 'transport'>,
    details: Record<string, unknown>,
  ): void {
    this.counts[code]++;
    this.#log?.warn(
      { denied: code, peer: `${peer.address}:${peer.port}`, transport: peer.transport, ...details },
      'denied',
    );
    for (const listener of this.#listeners) listener(code);
  }
}
