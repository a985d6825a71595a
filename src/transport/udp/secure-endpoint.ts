import { randomInt } from 'node:crypto';
import type { Conduit } from '../types.js';
import type { AmplificationBudget } from './budget.js';
import type { CookieJar } from './cookie.js';
import { acceptHandshake } from './handshake.js';
import type { KeyTable } from './keys.js';
import type { Datagram } from './listener.js';
import type { ChannelOptions } from './reliable.js';
import { SessionStream } from './session-stream.js';
import {
  DatagramType,
  encodeCookie,
  encodeRefused,
  encodeReset,
  encodeWelcome,
  parseHello,
  RECORD_HEADER,
  sessionIdOf,
  UDP_VERSION,
} from './wire.js';

const COOKIE_CONTEXT = 'hello';

export interface SecureEndpointOptions {
  maxSessions: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  /** For tests: the reliable channel's settings. */
  channel?: Partial<ChannelOptions>;
}

export interface SecureEndpointHost {
  readonly cookies: CookieJar;
  readonly budget: AmplificationBudget;
  readonly keys: KeyTable;
  send(bytes: Uint8Array, port: number, address: string): void;
  /** A new session's byte stream, served like a TCP connection. */
  accept(conduit: Conduit): void;
  /** False while the node drains: no new sessions. */
  accepting(): boolean;
}

export interface SecureEndpointStats {
  sessions: number;
  handshakes: number;
  cookiesSent: number;
  /** HELLOs whose key id is unknown or whose Noise message did not verify under it (a wrong key). */
  authFailures: number;
  refusedBusy: number;
  malformed: number;
  /** RECORDs for a session the node does not hold (answered RESET). */
  unknownSession: number;
  /** RECORDs that did not verify under their session's key (wrong key, tampering). */
  rejected: number;
  /** RECORDs dropped by a replay window (§13.3.5). */
  replayed: number;
  handshakeTimeouts: number;
  idleTimeouts: number;
}

interface Entry {
  readonly id: number;
  readonly address: string;
  readonly port: number;
  readonly stream: SessionStream;
  readonly welcome: Uint8Array;
  readonly ephemeral: string;
  readonly createdAt: number;
}

/**
 * The node's side of secure datagrams (spec §13.3): answers HELLO with a cookie and keeps nothing (§13.3.2),
 * then on a HELLO that returns the cookie runs the node's half of the Noise handshake, admits a session
 * (bounded by maxSessions), and hands its byte stream to the node as a conduit. RECORDs go to their session;
 * sessions that never finish their handshake or go quiet are forgotten (§13.3.8).
 */
export class SecureEndpoint {
  readonly #sessions = new Map<number, Entry>();
  /** Sessions by the client's address, port and ephemeral key: a HELLO again gets the same WELCOME. */
  readonly #byEphemeral = new Map<string, Entry>();
  readonly #counters = {
    handshakes: 0,
    cookiesSent: 0,
    authFailures: 0,
    refusedBusy: 0,
    malformed: 0,
    unknownSession: 0,
    handshakeTimeouts: 0,
    idleTimeouts: 0,
  };
  /** Rejected and replayed records of sessions already gone. */
  #closedRejected = 0;
  #closedReplayed = 0;
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly host: SecureEndpointHost,
    private readonly options: SecureEndpointOptions,
  ) {
    this.#sweeper = setInterval(() => this.sweep(Date.now()), 1000);
    this.#sweeper.unref();
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  stats(): SecureEndpointStats {
    let rejected = this.#closedRejected;
    let replayed = this.#closedReplayed;
    for (const entry of this.#sessions.values()) {
      rejected += entry.stream.session.record.stats.rejected;
      replayed += entry.stream.session.record.stats.replayed;
    }
    return { sessions: this.#sessions.size, ...this.#counters, rejected, replayed };
  }

  handle(datagram: Datagram): void {
    const { bytes } = datagram;
    const type = bytes[1];
    if (type === DatagramType.RECORD) this.#record(datagram);
    else if (type === DatagramType.HELLO) this.#hello(datagram);
    else this.#counters.malformed++; // types a node never receives, and garbage after 0x8E
  }

  #hello({ bytes, address, port }: Datagram): void {
    const hello = parseHello(bytes);
    if (hello === undefined || hello.version !== UDP_VERSION) {
      this.#counters.malformed++;
      return;
    }
    const verified =
      hello.cookie !== undefined && this.host.cookies.check(hello.cookie, address, port, COOKIE_CONTEXT);
    if (!verified) {
      // §13.3.2 Nothing is kept and nothing is computed: a cookie (22 bytes) for a HELLO of 1200.
      this.host.budget.received(bytes.length);
      const reply = encodeCookie(this.host.cookies.issue(address, port, COOKIE_CONTEXT));
      if (this.host.budget.take(reply.length)) {
        this.#counters.cookiesSent++;
        this.host.send(reply, port, address);
      }
      return;
    }
    const ephemeral = `${address}|${port}|${Buffer.from(hello.noise.subarray(0, 32)).toString('hex')}`;
    const existing = this.#byEphemeral.get(ephemeral);
    if (existing !== undefined) {
      this.host.send(existing.welcome, port, address); // our WELCOME was lost: the same one again
      return;
    }
    if (!this.host.accepting()) {
      this.host.send(encodeRefused('SHUTTING_DOWN'), port, address);
      return;
    }
    const key = this.host.keys.find(hello.keyId);
    if (key === undefined) {
      this.#refuseAuth(address, port);
      return;
    }
    if (this.#sessions.size >= this.options.maxSessions) {
      this.#counters.refusedBusy++;
      this.host.send(encodeRefused('SERVER_BUSY'), port, address);
      return;
    }
    let id = randomInt(1, 2 ** 32 - 1);
    while (this.#sessions.has(id)) id = randomInt(1, 2 ** 32 - 1);
    let handshake: ReturnType<typeof acceptHandshake>;
    try {
      handshake = acceptHandshake(key, hello.noise, id);
    } catch {
      this.#refuseAuth(address, port);
      return;
    }
    this.#counters.handshakes++;
    const stream = new SessionStream(
      handshake.record,
      (out) => this.host.send(out, port, address),
      this.options.channel,
    );
    const entry: Entry = {
      id,
      address,
      port,
      stream,
      welcome: encodeWelcome(id, handshake.message2),
      ephemeral,
      createdAt: Date.now(),
    };
    this.#sessions.set(id, entry);
    this.#byEphemeral.set(ephemeral, entry);
    stream.on('error', () => {}); // the connection logs its stream's errors; none may go unheard before
    stream.on('close', () => this.#forget(entry));
    this.host.send(entry.welcome, port, address);
    this.host.accept({ stream, peer: { transport: 'udp', address, port, secure: true } });
  }

  #refuseAuth(address: string, port: number): void {
    this.#counters.authFailures++;
    this.host.send(encodeRefused('AUTH_FAILED'), port, address);
  }

  #record({ bytes, address, port }: Datagram): void {
    if (bytes.length < RECORD_HEADER) {
      this.#counters.malformed++;
      return;
    }
    const entry = this.#sessions.get(sessionIdOf(bytes));
    if (entry === undefined || entry.address !== address || entry.port !== port) {
      // §13.3.8 A session this node does not hold (it restarted, or forgot it): RESET, 6 bytes for 30+.
      this.#counters.unknownSession++;
      this.host.budget.received(bytes.length);
      const reset = encodeReset(sessionIdOf(bytes));
      if (this.host.budget.take(reset.length)) this.host.send(reset, port, address);
      return;
    }
    // A HELLO that arrives late (duplicated or delayed on the way) still finds its session and gets its
    // WELCOME again, which the sensor ignores, rather than a second session.
    entry.stream.session.receive(bytes);
  }

  /** §13.3.8 Handshake and idle timeouts. */
  sweep(now: number): void {
    for (const entry of this.#sessions.values()) {
      const session = entry.stream.session;
      if (session.recordsIn === 0 && now - entry.createdAt > this.options.handshakeTimeoutMs) {
        this.#counters.handshakeTimeouts++;
        entry.stream.destroy(new Error('UDP handshake timeout'));
      } else if (now - session.lastReceived > this.options.idleTimeoutMs) {
        this.#counters.idleTimeouts++;
        entry.stream.destroy(new Error('UDP session idle'));
      }
    }
  }

  #forget(entry: Entry): void {
    if (this.#sessions.get(entry.id) !== entry) return;
    this.#sessions.delete(entry.id);
    this.#byEphemeral.delete(entry.ephemeral);
    this.#closedRejected += entry.stream.session.record.stats.rejected;
    this.#closedReplayed += entry.stream.session.record.stats.replayed;
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const entry of [...this.#sessions.values()]) entry.stream.destroy();
  }
}
