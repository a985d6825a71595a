import type { Logger } from 'pino';
import type { NodeStats } from '../contract/service.js';
import { NexoError } from '../errors.js';
import type { ServerOptions } from '../options/options.js';
import { PREFACE_FIRST_BYTE } from '../protocol/constants.js';
import { Admission } from '../server/admission.js';
import { BinaryConnection } from '../server/binary-connection.js';
import { type ConnectionHost, countLimit } from '../server/host.js';
import type { PeerConnection, ReconnectHint } from '../server/peer-connection.js';
import { TextSession } from '../server/text-session.js';
import type { Conduit, TransportKind } from '../transport/types.js';

/** What the node hands the table: the parts of every connection's host that the node owns, and its state. */
export interface ConnectionTableParts
  extends Pick<ConnectionHost, 'options' | 'dispatcher' | 'auth' | 'log' | 'stats' | 'nodeId'> {
  /** Whether the node takes new connections (not before start, not once it drains). */
  running(): boolean;
}

/**
 * The node's connections, from every transport: it tells binary clients from people typing (§3.2), counts
 * them per client address (§7.6.1), gives each a slot or a place in line (§7.1), sweeps their timeouts, and
 * drains them on close (§7.3).
 */
export class ConnectionTable {
  /** What each connection gets from the node. */
  readonly host: ConnectionHost;
  readonly admission: Admission<PeerConnection>;
  readonly #options: ServerOptions;
  readonly #stats: NodeStats;
  readonly #log: Logger;
  readonly #running: () => boolean;
  readonly #connections = new Map<number, PeerConnection>();
  readonly #sniffing = new Set<Conduit>();
  /** Open protocol and TLS connections by client address (§7.6.1). */
  readonly #perAddress = new Map<string, number>();
  /** Connections refused before admission that never held a slot: their close frees none. */
  readonly #unslotted = new Set<number>();
  #nextId = 1;
  #clock = Date.now();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(parts: ConnectionTableParts) {
    this.#options = parts.options;
    this.#stats = parts.stats;
    this.#log = parts.log;
    this.#running = parts.running;
    this.host = {
      options: parts.options,
      dispatcher: parts.dispatcher,
      auth: parts.auth,
      log: parts.log,
      stats: parts.stats,
      nodeId: parts.nodeId,
      now: () => this.#clock,
      closed: (connection) => this.#closed(connection.session.id),
    };
    this.admission = new Admission(parts.options.maxClients, parts.options.maxQueue);
  }

  /** A new session id: connections, direct calls and UDP sessions share one sequence. */
  readonly nextId = (): number => this.#nextId++;

  get size(): number {
    return this.#connections.size;
  }

  values(): IterableIterator<PeerConnection> {
    return this.#connections.values();
  }

  /** Conduits whose first byte has not come yet. */
  sniffing(): ReadonlySet<Conduit> {
    return this.#sniffing;
  }

  /** Entry of every transport: a new byte stream with its peer. */
  accept(conduit: Conduit): void {
    const { stream } = conduit;
    if (!this.#running()) {
      stream.destroy();
      return;
    }
    this.#stats.connectionsTotal++;
    const overLimit = this.#countAddress(conduit);
    this.#sniffing.add(conduit);
    // §3.2 The first byte decides the mode. Nothing is written before it arrives.
    const timer = setTimeout(() => finish(undefined), this.#options.handshakeTimeoutMs);
    const onData = (chunk: Buffer) => finish(chunk);
    const onGone = () => finish(undefined);
    const finish = (chunk: Buffer | undefined) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onGone);
      stream.off('close', onGone);
      this.#sniffing.delete(conduit);
      if (chunk === undefined || !this.#running()) {
        if (chunk === undefined && !stream.destroyed && this.#running()) {
          countLimit(this.#stats, 'mode_timeout');
          // A person who connected and typed nothing still deserves a word before the door closes.
          stream.end(`nexo: no input within ${this.#options.handshakeTimeoutMs} ms; closing\n`);
          setTimeout(() => stream.destroy(), 1000).unref();
        } else stream.destroy();
        return;
      }
      stream.pause();
      this.#start(conduit, chunk, overLimit);
    };
    stream.on('data', onData);
    stream.once('end', onGone);
    stream.once('close', onGone);
  }

  /**
   * §7.6.1 Counts a protocol or TLS connection under its client address until it closes; true when it is one
   * more than the address may hold (it is refused after its first byte, in its mode).
   */
  #countAddress(conduit: Conduit): boolean {
    const { transport, address } = conduit.peer;
    const limit = this.#options.maxConnectionsPerAddress;
    if (limit === 0 || (transport !== 'tcp' && transport !== 'tls')) return false;
    const count = (this.#perAddress.get(address) ?? 0) + 1;
    if (count > limit) {
      countLimit(this.#stats, 'connections_per_address');
      return true;
    }
    this.#perAddress.set(address, count);
    conduit.stream.once('close', () => {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
    return false;
  }

  #start(conduit: Conduit, first: Buffer, overLimit = false): void {
    const id = this.#nextId++;
    const host = this.host;
    const connection =
      first[0] === PREFACE_FIRST_BYTE
        ? new BinaryConnection(conduit, first, host, id)
        : new TextSession(conduit, first, host, id);
    this.#stats.bytesIn += first.length;
    this.#connections.set(id, connection);
    if (overLimit) {
      // §7.6.1 Refused in its own mode; it never takes (or waits for) a client slot.
      this.#unslotted.add(id);
      connection.refuse(
        new NexoError(
          'TOO_MANY_CONNECTIONS',
          `this address already has ${this.#options.maxConnectionsPerAddress} connections open to the node; close some and retry`,
          { limit: this.#options.maxConnectionsPerAddress },
        ),
      );
      return;
    }
    if (this.admission.tryEnter()) {
      connection.admit();
      return;
    }
    const position = this.admission.enqueue(connection, this.#clock);
    if (position === 0) {
      connection.refuse(
        new NexoError(
          'SERVER_BUSY',
          `all ${this.#options.maxClients} client slots and the wait queue are full; try later`,
        ),
      );
      return;
    }
    this.#log.info({ conn: id, position }, 'client queued');
    connection.queued(position);
  }

  #closed(id: number): void {
    const connection = this.#connections.get(id);
    if (connection === undefined) return;
    this.#connections.delete(id);
    if (this.#unslotted.delete(id)) return;
    if (this.admission.remove(connection)) return; // it never had a slot
    const next = this.admission.leave();
    if (next === undefined) return;
    if (next.open) {
      this.#log.info({ conn: next.session.id }, 'queued client admitted');
      next.admit();
    } else {
      this.#closed(next.session.id); // it is closing already: pass the slot on
    }
  }

  /** Ticks every connection's timeouts and refuses those that waited in line too long. */
  sweep(): void {
    const now = Date.now();
    this.#clock = now;
    for (const connection of this.#connections.values()) connection.tick(now);
    for (const late of this.admission.expired(now, this.#options.queueTimeoutMs)) {
      late.refuse(
        new NexoError('SERVER_BUSY', `no client slot became free within ${this.#options.queueTimeoutMs} ms`),
      );
    }
  }

  /** Sweeps in the background, often enough for the shortest timeout, until `stopSweeping`. */
  startSweeping(): void {
    this.#sweeper = setInterval(() => this.sweep(), sweepInterval(this.#options));
    this.#sweeper.unref();
  }

  stopSweeping(): void {
    clearInterval(this.#sweeper);
  }

  /** Open connections, by transport (binary and text alike). */
  byTransport(): Record<TransportKind, number> {
    const counts: Record<TransportKind, number> = { tcp: 0, tls: 0, ws: 0, udp: 0 };
    for (const connection of this.#connections.values()) counts[connection.session.peer.transport]++;
    return counts;
  }

  /** Every connection's transport, mode and state, those still being sniffed included (nexo_connections). */
  states(): { transport: TransportKind; mode: string; state: string }[] {
    return [
      ...[...this.#connections.values()].map((c) => ({
        transport: c.session.peer.transport,
        mode: c.session.mode,
        state: c.state,
      })),
      ...[...this.#sniffing].map((c) => ({
        transport: c.peer.transport,
        mode: 'unknown',
        state: 'sniffing',
      })),
    ];
  }

  /** The first step of a drain: connections not yet in a mode are cut and those waiting in line refused. */
  stopIntake(going: NexoError): void {
    for (const conduit of this.#sniffing) conduit.stream.destroy();
    for (const waiting of this.admission.drain()) waiting.refuse(going);
  }

  /**
   * §7.3 Tells every connection the node is going away, lets them finish until `started + timeoutMs`, then
   * cuts those still open.
   */
  async drain(going: NexoError, hint: ReconnectHint, started: number, timeoutMs: number): Promise<void> {
    for (const connection of this.#connections.values()) connection.goAway(going, hint);
    while (this.#connections.size > 0 && Date.now() - started < timeoutMs) {
      this.sweep();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (this.#connections.size > 0) {
      this.#log.warn(
        { connections: this.#connections.size },
        'shutdown deadline reached; cutting connections',
      );
      for (const connection of this.#connections.values()) connection.destroy();
    }
  }
}

/** Often enough to honour the shortest timeout within a quarter of it, never more than 100 times a second. */
function sweepInterval(o: ServerOptions): number {
  const timeouts = [
    o.handshakeTimeoutMs,
    o.idleTimeoutMs,
    o.heartbeatMs,
    o.slowPeerTimeoutMs,
    o.queueTimeoutMs,
  ];
  const shortest = Math.min(...timeouts.filter((t) => t > 0));
  return Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
}
