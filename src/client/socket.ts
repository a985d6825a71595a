/**
 * The byte transport under a client connection. The client core only needs this much, so the same client
 * runs over TCP in Node and over WebSocket in a browser.
 */
export interface ClientSocket {
  /** Returns false when the socket buffer is full; `onDrain` fires when it empties. */
  write(bytes: Uint8Array): boolean;
  /** Half-close after flushing (graceful). */
  end(): void;
  /** Close now. */
  destroy(): void;
  /** Stop delivering data (the application is not keeping up); optional. */
  pause?(): void;
  resume?(): void;
  onData: (bytes: Uint8Array) => void;
  onDrain: () => void;
  /** Fires once; `error` is set when the socket failed rather than closed. */
  onClose: (error?: Error) => void;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** `nexos://`: connect with TLS (spec §2.4). */
  readonly tls?: boolean;
}

/** Opens a socket to an endpoint; rejects (with the system error) when it cannot. */
export type SocketFactory = (endpoint: Endpoint, signal: AbortSignal) => Promise<ClientSocket>;

export const DEFAULT_PORT = 5000;
export const DEFAULT_TLS_PORT = 5443;

/**
 * Parses `host`, `host:port`, `[::1]:port`, `tcp://host:port`, `nexo://host:port`, or `nexos://host:port`
 * (TLS, default port 5443).
 */
export function parseEndpoint(text: string, defaultPort = DEFAULT_PORT): Endpoint {
  const tls = /^\s*nexos:\/\//i.test(text);
  const trimmed = text.trim().replace(/^(?:tcp|nexos?):\/\//i, '');
  if (tls) defaultPort = DEFAULT_TLS_PORT;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  let host: string;
  let port: string | undefined;
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
  } else if ((trimmed.match(/:/g) ?? []).length === 1) {
    [host, port] = trimmed.split(':') as [string, string];
  } else if (!trimmed.includes(':') || /^[0-9a-fA-F:.]+$/.test(trimmed)) {
    host = trimmed; // a name, an IPv4 address, or a bare IPv6 address (then the port is the default)
  } else {
    host = '';
  }
  const portNumber = port === undefined ? defaultPort : Number(port);
  if (host === '' || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    throw new TypeError(
      `invalid endpoint '${text}': expected host:port or nexos://host:port, e.g. 127.0.0.1:5000`,
    );
  }
  return tls ? { host, port: portNumber, tls: true } : { host, port: portNumber };
}

export function formatEndpoint(endpoint: Endpoint): string {
  const where = endpoint.host.includes(':')
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
  return endpoint.tls === true ? `nexos://${where}` : where;
}
