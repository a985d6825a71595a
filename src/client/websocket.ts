import { type ClientSocket, type Endpoint, formatEndpoint, type SocketFactory } from './socket.js';

/** The part of the WebSocket API the client uses: the browser's WebSocket and Node's `ws` both have it. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketFactoryOptions {
  /** Path of the node's WebSocket endpoint. Default `/ws`. */
  path?: string;
  /** `wss://` instead of `ws://`. */
  secure?: boolean;
  /** The WebSocket class; default the global one (browsers). In Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
}

/** The subprotocol the node selects (spec §2.3.1). */
export const WEBSOCKET_SUBPROTOCOL = 'nexo';

/**
 * Writes of one tick are sent as one message up to this size, and no message is larger: every node accepts
 * at least 64 KiB (http.wsMaxMessage, spec §2.3.3), so this client never depends on a node's setting.
 */
const MESSAGE_MAX = 64 * 1024;
/** write() returns false above this many unsent bytes; onDrain fires once below DRAIN_LOW. */
const HIGH_WATER = 1024 * 1024;
const DRAIN_LOW = 256 * 1024;
/** Browsers have no drain event: while full, bufferedAmount is polled this often. */
const DRAIN_POLL_MS = 5;

const OPEN = 1;

/**
 * Sockets for the client over WebSocket (spec §2.3): the same NexoClient, in a browser or in Node, through
 * a node's `/ws`. The endpoint is the node's HTTP address (`host:8080`).
 */
export function webSocketFactory(options: WebSocketFactoryOptions = {}): SocketFactory {
  const path = options.path ?? '/ws';
  return (endpoint: Endpoint, signal: AbortSignal) => {
    const Ctor =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    if (Ctor === undefined) {
      return Promise.reject(
        new Error("this runtime has no WebSocket; pass one (in Node: WebSocket from the 'ws' package)"),
      );
    }
    const secure = options.secure === true || endpoint.tls === true;
    const url = `${secure ? 'wss' : 'ws'}://${formatEndpoint({ host: endpoint.host, port: endpoint.port })}${path}`;
    return openWebSocket(new Ctor(url, WEBSOCKET_SUBPROTOCOL), url, signal);
  };
}

function openWebSocket(ws: WebSocketLike, url: string, signal: AbortSignal): Promise<ClientSocket> {
  ws.binaryType = 'arraybuffer';
  return new Promise<ClientSocket>((resolve, reject) => {
    let opened = false;
    const fail = (error: Error) => {
      signal.removeEventListener('abort', abort);
      ws.onopen = ws.onerror = ws.onclose = ws.onmessage = null;
      try {
        ws.close();
      } catch {
        // not open yet: nothing to close
      }
      reject(error);
    };
    const abort = () => fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', abort, { once: true });
    ws.onerror = (event) => {
      if (!opened) fail(connectError(event, url));
    };
    ws.onclose = (event) => {
      if (!opened) fail(connectError(event, url));
    };
    ws.onopen = () => {
      opened = true;
      signal.removeEventListener('abort', abort);
      resolve(new WebSocketClientSocket(ws));
    };
  });
}

/** Why a WebSocket did not open, with the system code when the runtime gives one (Node's `ws` does). */
function connectError(event: unknown, url: string): Error {
  const cause = (event as { error?: Error & { code?: string } } | undefined)?.error;
  const close = event as { code?: number; reason?: string } | undefined;
  const detail = cause?.message ?? (close?.code === undefined ? 'failed' : `closed with code ${close.code}`);
  const error = new Error(`WebSocket ${url}: ${detail}`) as Error & { code?: string };
  if (cause?.code !== undefined) error.code = cause.code;
  return error;
}

class WebSocketClientSocket implements ClientSocket {
  readonly #ws: WebSocketLike;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #full = false;
  #ending = false;
  #closed = false;
  onData: (bytes: Uint8Array) => void = () => {};
  onDrain: () => void = () => {};
  onClose: (error?: Error) => void = () => {};

  constructor(ws: WebSocketLike) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) this.onData(new Uint8Array(data));
      else if (ArrayBuffer.isView(data)) {
        this.onData(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } else {
        // §2.3.2 The protocol is binary messages only; text means the other side is not a nexo node.
        this.#close(new Error('the server sent a text WebSocket message; it is not a nexo node'));
      }
    };
    ws.onclose = (event) =>
      this.#close(
        event.code === 1000 || event.code === 1005
          ? undefined
          : new Error(`WebSocket closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`),
      );
    ws.onerror = () => {}; // a close event follows with the code
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Everything written in this turn leaves together: message boundaries mean nothing (§2.2).
      queueMicrotask(() => this.#flush());
    }
    if (this.#ws.bufferedAmount + this.#pendingBytes < HIGH_WATER) return true;
    this.#watchDrain();
    return false;
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#flush();
    this.#ending = true;
    // WebSocket has no half-close: a normal close once what was sent is flushed.
    this.#ws.close(1000);
  }

  destroy(): void {
    if (this.#closed) return;
    const terminate = (this.#ws as { terminate?: () => void }).terminate;
    if (typeof terminate === 'function') terminate.call(this.#ws);
    else this.#ws.close(1000);
    this.#close(undefined);
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0 || this.#closed || this.#ws.readyState !== OPEN) return;
    const parts = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    let group: Uint8Array[] = [];
    let groupBytes = 0;
    const sendGroup = () => {
      if (groupBytes === 0) return;
      this.#ws.send(group.length === 1 ? group[0]! : concat(group, groupBytes));
      group = [];
      groupBytes = 0;
    };
    for (const part of parts) {
      if (part.length >= MESSAGE_MAX) {
        sendGroup();
        for (let at = 0; at < part.length; at += MESSAGE_MAX)
          this.#ws.send(part.subarray(at, at + MESSAGE_MAX));
        continue;
      }
      if (groupBytes + part.length > MESSAGE_MAX) sendGroup();
      group.push(part);
      groupBytes += part.length;
    }
    sendGroup();
  }

  #watchDrain(): void {
    if (this.#full) return;
    this.#full = true;
    const check = () => {
      if (this.#closed) return;
      if (this.#ws.bufferedAmount + this.#pendingBytes <= DRAIN_LOW) {
        this.#full = false;
        this.onDrain();
      } else setTimeout(check, DRAIN_POLL_MS);
    };
    setTimeout(check, DRAIN_POLL_MS);
  }

  #close(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#ws.onmessage = this.#ws.onclose = this.#ws.onerror = null;
    if (error !== undefined && this.#ws.readyState === OPEN) this.#ws.close(1002);
    this.onClose(error);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
