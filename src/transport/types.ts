import type { Duplex } from 'node:stream';

export type TransportKind = 'tcp' | 'tls' | 'ws' | 'udp';

/** Who is on the other end of a connection. */
export interface PeerInfo {
  readonly transport: TransportKind;
  readonly address: string;
  readonly port: number;
  readonly secure: boolean;
  /** A client certificate the TLS handshake verified against the node's CA (spec §5.1.6). */
  readonly certificate?: PeerCertificate;
}

/** What the node uses of a verified client certificate: its subject's CN and OU. */
export interface PeerCertificate {
  readonly commonName: string | undefined;
  readonly organizationalUnit: string | undefined;
  readonly fingerprint256: string;
}

/**
 * What every transport hands the node: a duplex byte stream and its peer. Services and the connection
 * state machine never learn whether the bytes came over TCP, TLS or WebSocket. The stream carries the nexo
 * byte stream only: message boundaries of the transport (WebSocket messages, TCP segments) mean nothing.
 */
export interface Conduit {
  readonly stream: Duplex;
  readonly peer: PeerInfo;
}

export type ConduitHandler = (conduit: Conduit) => void;

export interface TransportListener {
  readonly kind: TransportKind;
  /** The bound address (the real port when 0 was asked for). */
  address(): { host: string; port: number };
  /** Stops accepting; existing conduits are left alone. */
  close(): Promise<void>;
}
