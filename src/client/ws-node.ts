import WebSocket from 'ws';
import type { ClientTlsOptions } from './tls.js';
import { type WebSocketConstructor, type WebSocketFactoryOptions, webSocketFactory } from './websocket.js';

/**
 * WebSocket sockets for the client in Node (20 has no global WebSocket): `ws` under the same factory. With
 * `tls`, `wss://` verifies the node against that CA and presents that client certificate (spec §5.1.6).
 */
export function nodeWebSocketFactory(
  options: Omit<WebSocketFactoryOptions, 'WebSocket'> & { tls?: Omit<ClientTlsOptions, 'always'> } = {},
) {
  const { tls, ...rest } = options;
  const secureOptions = tls === undefined ? undefined : { ca: tls.ca, cert: tls.cert, key: tls.key };
  const Ctor =
    secureOptions === undefined
      ? WebSocket
      : class extends WebSocket {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols, secureOptions);
          }
        };
  return webSocketFactory({
    ...rest,
    secure: rest.secure ?? tls !== undefined,
    WebSocket: Ctor as unknown as WebSocketConstructor,
  });
}
