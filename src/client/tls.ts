import net from 'node:net';
import tls from 'node:tls';
import type { ClientSocket, Endpoint, SocketFactory } from './socket.js';

/** TLS settings of a Node client (CLI `--tls --ca --cert --key`). PEM contents, not file names. */
export interface ClientTlsOptions {
  /** Use TLS for every endpoint, not only `nexos://` ones. */
  always?: boolean;
  /** CA bundle that the server's certificate must chain to; default: the system's. */
  ca?: string | Buffer;
  /** Client certificate and key (mTLS, spec §5.1.6). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name checked against the server certificate; default: the endpoint's host. */
  servername?: string;
}

/**
 * Sockets for the client in Node: TLS for `nexos://` endpoints (or all of them with `always`), plain TCP
 * otherwise. The server's certificate is always verified; there is no switch to turn that off.
 */
export function nodeSocketFactory(options: ClientTlsOptions = {}): SocketFactory {
  return (endpoint, signal) =>
    open(endpoint, signal, endpoint.tls === true || options.always === true ? options : undefined);
}

/** TCP or TLS socket as a ClientSocket; resolves once connected (after the TLS handshake). */
export function open(
  endpoint: Endpoint,
  signal: AbortSignal,
  secure: ClientTlsOptions | undefined,
): Promise<ClientSocket> {
  return new Promise<ClientSocket>((resolve, reject) => {
    const socket =
      secure === undefined
        ? net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true })
        : tls.connect({
            host: endpoint.host,
            port: endpoint.port,
            noDelay: true,
            ...(secure.ca === undefined ? {} : { ca: secure.ca }),
            ...(secure.cert === undefined ? {} : { cert: secure.cert }),
            ...(secure.key === undefined ? {} : { key: secure.key }),
            // An address is not a DNS name (SNI forbids it); the certificate's IP SAN is checked instead.
            servername: secure.servername ?? (net.isIP(endpoint.host) === 0 ? endpoint.host : undefined),
            minVersion: 'TLSv1.2',
          } as tls.ConnectionOptions);
    const abort = () => {
      socket.destroy();
      reject(signal.reason ?? new Error('aborted'));
    };
    signal.addEventListener('abort', abort, { once: true });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', abort);
      reject(err);
    });
    socket.once(secure === undefined ? 'connect' : 'secureConnect', () => {
      signal.removeEventListener('abort', abort);
      socket.removeAllListeners('error');
      const wrapped: ClientSocket = {
        write: (bytes) => socket.write(bytes),
        end: () => socket.end(),
        destroy: () => socket.destroy(),
        pause: () => socket.pause(),
        resume: () => socket.resume(),
        onData: () => {},
        onDrain: () => {},
        onClose: () => {},
      };
      let failure: Error | undefined;
      socket.on('data', (chunk) => wrapped.onData(chunk));
      socket.on('drain', () => wrapped.onDrain());
      socket.on('error', (err) => {
        failure = err;
      });
      socket.on('close', () => wrapped.onClose(failure));
      resolve(wrapped);
    });
  });
}
