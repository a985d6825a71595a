import { PREFACE_FIRST_BYTE } from '../protocol/constants.js';
import type { Conduit } from '../transport/types.js';
import { AmplificationBudget } from '../transport/udp/budget.js';
import { CookieJar } from '../transport/udp/cookie.js';
import { KeyTable } from '../transport/udp/keys.js';
import { type Datagram, listenUdp, type UdpListener, type UdpStats } from '../transport/udp/listener.js';
import { SecureEndpoint, type SecureEndpointStats } from '../transport/udp/secure-endpoint.js';
import type { ConnectionHost } from './host.js';
import { UdpText, type UdpTextStats } from './udp-text.js';

/** Read from a datagram socket at most this much; UDP's own limit. */
const MAX_DATAGRAM = 65_535;

export interface UdpContext {
  readonly connection: ConnectionHost;
  nextSessionId(): number;
  draining(): boolean;
  /** A secure session's byte stream: served as any connection. */
  accept(conduit: Conduit): void;
}

export interface UdpEndpoint {
  readonly listener: UdpListener;
  readonly budget: AmplificationBudget;
  /**
   * The keys of secure sessions (§13.3.3): `keys.replace(digests, anonymous)` when the accepted tokens
   * change (a tokens store), so new tokens work over UDP at once and revoked ones get no new session.
   */
  readonly keys: KeyTable;
  /** Secure sessions held now (§13.3); text datagrams never leave any. */
  readonly sessions: number;
  stats(): UdpStats & {
    text: UdpTextStats;
    secure: SecureEndpointStats;
    unverifiedIn: number;
    unverifiedOut: number;
    ignored: number;
  };
  close(): Promise<void>;
}

/**
 * The node's UDP port (spec §13): one socket, two kinds of datagram told apart by the first byte as on TCP
 * (§13.1.1): 0x8E starts a secure datagram (§13.3), anything else is a text command (§13.2).
 */
export async function startUdp(context: UdpContext, tcpPort: number): Promise<UdpEndpoint> {
  const options = context.connection.options;
  const cookies = new CookieJar();
  const budget = new AmplificationBudget(options.udp.unverifiedBudget);
  let ignored = 0;
  // The listener is needed to send, and is made with the handler: the handler reaches it through this.
  let listener: UdpListener | undefined;
  const text = new UdpText({
    connection: context.connection,
    cookies,
    budget,
    send: (bytes, port, address) => listener?.send(bytes, port, address),
    nextSessionId: context.nextSessionId,
    draining: context.draining,
  });
  const keys = new KeyTable(Object.keys(options.auth.tokens), options.auth.anonymous);
  const secure = new SecureEndpoint(
    {
      cookies,
      budget,
      keys,
      send: (bytes, port, address) => listener?.send(bytes, port, address),
      accept: context.accept,
      accepting: () => !context.draining(),
    },
    {
      maxSessions: options.udp.maxSessions,
      handshakeTimeoutMs: options.udp.handshakeTimeoutMs,
      idleTimeoutMs: options.udp.idleTimeoutMs,
    },
  );
  const handle = (datagram: Datagram): void | Promise<void> => {
    if (datagram.bytes.length === 0) {
      ignored++;
      return;
    }
    // §13.1.1 The first byte tells a secure datagram from a text command.
    if (datagram.bytes[0] === PREFACE_FIRST_BYTE) return secure.handle(datagram);
    return text.handle(datagram);
  };
  const listen = (port: number) =>
    listenUdp(
      { host: options.host, port, maxPending: options.udp.maxPending, maxDatagram: MAX_DATAGRAM },
      handle,
    );
  if (options.udp.port !== undefined) listener = await listen(options.udp.port);
  else {
    try {
      listener = await listen(tcpPort);
    } catch (err) {
      // Asked for any free port (0): the TCP port's number may be taken on UDP; any other will do then.
      if (options.port !== 0) throw err;
      listener = await listen(0);
    }
  }
  const bound = listener;
  const closeAll = async () => {
    secure.close();
    await bound.close();
  };
  return {
    listener: bound,
    budget,
    keys,
    get sessions() {
      return secure.sessionCount;
    },
    stats: () => ({
      ...bound.stats,
      text: { ...text.stats },
      secure: secure.stats(),
      unverifiedIn: budget.bytesIn,
      unverifiedOut: budget.bytesOut,
      ignored,
    }),
    close: closeAll,
  };
}
