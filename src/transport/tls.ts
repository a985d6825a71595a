import type net from 'node:net';
import tls from 'node:tls';
import { ignoreSocketError } from './tcp.js';
import type { ConduitHandler, PeerCertificate, TransportListener } from './types.js';

export type ClientAuth = 'none' | 'optional' | 'require';

export interface TlsContextMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer | undefined;
}

export interface TlsListenOptions {
  host: string;
  port: number;
  material: TlsContextMaterial;
  clientAuth: ClientAuth;
  /** A peer that has not finished the TLS handshake by then is dropped. */
  handshakeTimeoutMs: number;
  backlog?: number;
  /** Told about each failed handshake (bad client certificate, wrong protocol), for logs and counters. */
  onHandshakeError?: (error: Error, peer: { address: string; port: number }) => void;
}

export interface TlsListener extends TransportListener {
  /** New handshakes use this material; connections already open keep theirs (SIGHUP reload). */
  setMaterial(material: TlsContextMaterial): void;
}

/** The server's TLS settings for a material and a client-auth mode; shared with the HTTPS gateway. */
export function tlsServerOptions(material: TlsContextMaterial, clientAuth: ClientAuth): tls.TlsOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca === undefined ? {} : { ca: material.ca }),
    minVersion: 'TLSv1.2',
    // `optional` asks for a certificate but lets a peer without one (or with one the CA did not sign) in
    // with no certificate role; `require` ends the handshake for both.
    requestCert: clientAuth !== 'none',
    rejectUnauthorized: clientAuth === 'require',
  };
}

/** The verified client certificate of a socket, if any (spec §5.1.6). */
export function verifiedCertificate(socket: tls.TLSSocket): PeerCertificate | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (cert === null || cert === undefined || Object.keys(cert).length === 0) return undefined;
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return {
    commonName: first(cert.subject?.CN),
    organizationalUnit: first(cert.subject?.OU),
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * TLS over TCP: each socket whose handshake completed is a conduit, the same byte stream the plain TCP
 * listener hands over, with `secure` set and the verified client certificate, if any.
 */
export function listenTls(options: TlsListenOptions, onConduit: ConduitHandler): Promise<TlsListener> {
  const server = tls.createServer({
    ...tlsServerOptions(options.material, options.clientAuth),
    handshakeTimeout: options.handshakeTimeoutMs,
    allowHalfOpen: true, // as tcp.ts: `printf … | openssl s_client` still gets its replies
    noDelay: true,
  } as tls.TlsOptions);
  // Sockets whose handshake has not finished: closing the listener ends them instead of waiting for their
  // handshake timeout (a client that vanished mid-handshake would otherwise hold a shutdown for 10 s).
  // One listener function for every socket (its `this` is the socket), taken off again once the handshake
  // is over: a closure (and a once() wrapper) per socket outlived it, ~270 bytes per session (bench/idle.ts).
  const handshaking = new Set<net.Socket>();
  function forget(this: net.Socket): void {
    handshaking.delete(this);
  }
  server.on('connection', (raw: net.Socket) => {
    handshaking.add(raw);
    raw.on('close', forget);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    if (socket.remoteAddress !== undefined) {
      for (const raw of handshaking) {
        if (raw.remotePort === socket.remotePort && raw.remoteAddress === socket.remoteAddress) {
          handshaking.delete(raw);
          raw.off('close', forget);
          break;
        }
      }
    }
    socket.on('error', ignoreSocketError);
    const certificate = verifiedCertificate(socket);
    onConduit({
      stream: socket,
      peer: {
        transport: 'tls',
        address: socket.remoteAddress ?? 'unknown',
        port: socket.remotePort ?? 0,
        secure: true,
        ...(certificate === undefined ? {} : { certificate }),
      },
    });
  });
  server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
    options.onHandshakeError?.(error, {
      address: socket.remoteAddress ?? 'unknown',
      port: socket.remotePort ?? 0,
    });
    socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, backlog: options.backlog ?? 511 }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      const bound = server.address() as net.AddressInfo;
      resolve({
        kind: 'tls',
        address: () => ({ host: bound.address, port: bound.port }),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const raw of handshaking) raw.destroy();
          }),
        setMaterial: (material) => server.setSecureContext(tlsServerOptions(material, options.clientAuth)),
      });
    });
  });
}
