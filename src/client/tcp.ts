import type { SocketFactory } from './socket.js';
import { open } from './tls.js';

/** Sockets for the client in Node: TCP, or TLS for `nexos://` endpoints (system CAs; see tls.ts for more). */
export const tcpSocketFactory: SocketFactory = (endpoint, signal) =>
  open(endpoint, signal, endpoint.tls === true ? {} : undefined);
