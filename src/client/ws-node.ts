import WebSocket from 'ws';
import { type WebSocketConstructor, type WebSocketFactoryOptions, webSocketFactory } from './websocket.js';

/** WebSocket sockets for the client in Node (20 has no global WebSocket): `ws` under the same factory. */
export function nodeWebSocketFactory(options: Omit<WebSocketFactoryOptions, 'WebSocket'> = {}) {
  return webSocketFactory({ ...options, WebSocket: WebSocket as unknown as WebSocketConstructor });
}
