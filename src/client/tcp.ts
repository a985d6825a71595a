import net from 'node:net';
import type { ClientSocket, Endpoint, SocketFactory } from './socket.js';

/** TCP sockets for the client in Node. */
export const tcpSocketFactory: SocketFactory = (endpoint: Endpoint, signal: AbortSignal) =>
  new Promise<ClientSocket>((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const abort = () => {
      socket.destroy();
      reject(signal.reason ?? new Error('aborted'));
    };
    signal.addEventListener('abort', abort, { once: true });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', abort);
      reject(err);
    });
    socket.once('connect', () => {
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
