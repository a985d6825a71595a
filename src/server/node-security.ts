import fs from 'node:fs';
import type { Logger } from 'pino';
import type { NodeStats } from '../contract/service.js';
import { NexoError } from '../errors.js';
import type { ServerOptions } from '../options/options.js';
import type { Denials } from '../security/denials.js';
import { loadTlsMaterial, type TlsMaterial } from '../security/tls-material.js';
import { FileTokenStore } from '../security/token-store.js';
import { listenTls, type TlsListener } from '../transport/tls.js';
import type { ConduitHandler } from '../transport/types.js';
import type { Authenticator } from './auth.js';
import { countLimit } from './host.js';
import type { PeerConnection } from './peer-connection.js';

/** How often the tokens file is checked; a revoked token stops working within this plus one sweep (§5.1.5). */
export const TOKEN_POLL_MS = 200;

/**
 * The node's TLS listener (and the material the HTTPS gateway shares), its SIGHUP reload, and the stored
 * tokens: the file is watched, and sessions whose token left it are ended with TOKEN_REVOKED.
 */
export class NodeSecurity {
  readonly tokens: FileTokenStore;
  #material: TlsMaterial | undefined;
  #listener: TlsListener | undefined;
  #onReload: ((material: TlsMaterial) => void)[] = [];
  #watcher: (() => void) | undefined;
  #onTokens: (() => void)[] = [];

  constructor(
    private readonly options: ServerOptions,
    private readonly auth: Authenticator,
    private readonly log: Logger,
    private readonly denials: Denials,
    private readonly connections: () => Iterable<PeerConnection>,
    private readonly stats: NodeStats,
  ) {
    this.tokens = new FileTokenStore(options.dataDir);
  }

  /** Reads the certificate files (throws TlsMaterialError, one line) and the tokens file. */
  prepare(): void {
    const t = this.options.tls;
    if (t.enabled) this.#material = loadTlsMaterial({ cert: t.cert!, key: t.key!, ca: t.ca });
    this.auth.setStoredTokens(this.tokens.readSync());
  }

  get material(): TlsMaterial | undefined {
    return this.#material;
  }

  async listen(onConduit: ConduitHandler): Promise<TlsListener | undefined> {
    if (this.#material === undefined) return undefined;
    const o = this.options;
    this.#listener = await listenTls(
      {
        host: o.host,
        port: o.tls.port,
        material: this.#material,
        clientAuth: o.tls.clientAuth,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        onHandshakeError: (error, peer) => {
          if ((error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT')
            countLimit(this.stats, 'tls_handshake_timeout');
          this.denials.record('TLS_HANDSHAKE', { ...peer, transport: 'tls' }, { reason: error.message });
        },
      },
      onConduit,
    );
    this.#onReload.push((m) => this.#listener?.setMaterial(m));
    return this.#listener;
  }

  /** Called with new material after a reload (the HTTPS gateway). */
  onReload(apply: (material: TlsMaterial) => void): void {
    this.#onReload.push(apply);
  }

  /**
   * SIGHUP: reads the certificate files again. New handshakes use them; open connections are left alone.
   * Bad files keep the old material and return the one-line reason.
   */
  reloadTls(): { ok: true; subject: string; validTo: string } | { ok: false; error: string } {
    const t = this.options.tls;
    if (!t.enabled) return { ok: false, error: 'TLS is not configured (--tls-cert, --tls-key)' };
    try {
      const material = loadTlsMaterial({ cert: t.cert!, key: t.key!, ca: t.ca });
      for (const apply of this.#onReload) apply(material);
      this.#material = material;
      this.log.info(
        { subject: material.leaf.subject, validTo: material.leaf.validTo },
        'TLS certificate reloaded',
      );
      return { ok: true, subject: material.leaf.subject, validTo: material.leaf.validTo };
    } catch (err) {
      const error = (err as Error).message;
      this.log.error({ reason: error }, 'TLS reload failed; keeping the old certificate');
      return { ok: false, error };
    }
  }

  /** Called after the accepted tokens changed (the UDP key table follows them). */
  onTokens(apply: () => void): void {
    this.#onTokens.push(apply);
  }

  /** Starts watching the tokens file (polling: works on every file system, and survives renames). */
  watchTokens(): void {
    if (this.#watcher !== undefined) return;
    this.#watcher = () => this.reloadTokens();
    fs.watchFile(this.tokens.file, { interval: TOKEN_POLL_MS, persistent: false }, this.#watcher);
  }

  /** Reads the tokens file again and ends sessions whose stored token is gone. */
  reloadTokens(): void {
    try {
      this.auth.setStoredTokens(this.tokens.readSync());
    } catch (err) {
      // A broken file must not log everyone out: keep the tokens known so far.
      this.log.error(
        { reason: (err as Error).message },
        'tokens file unreadable; keeping the previous tokens',
      );
      return;
    }
    for (const apply of this.#onTokens) apply();
    for (const connection of this.connections()) {
      const hash = connection.session.tokenHash;
      if (hash === undefined || this.auth.isCurrent(hash) || !connection.open) continue;
      this.denials.record('TOKEN_REVOKED', connection.session.peer, {
        conn: connection.session.id,
        token: connection.session.principal,
      });
      connection.refuse(
        new NexoError('TOKEN_REVOKED', `token '${connection.session.principal}' was revoked`, {
          token: connection.session.principal,
        }),
      );
    }
  }

  close(): void {
    if (this.#watcher !== undefined) fs.unwatchFile(this.tokens.file, this.#watcher);
    this.#watcher = undefined;
  }
}
