import type { Server, Socket } from 'node:net';
import { NexoError } from '../errors.js';
import { rawErrorResponse } from './errors.js';

/**
 * Caps the TCP connections one client address holds open on the HTTP port (plain HTTP and WebSocket alike),
 * so one host cannot take every socket the node can hold. A connection over the cap gets a short 429 with the
 * usual JSON error body and is closed before any of its bytes are parsed.
 */
export class ConnectionLimit {
  readonly #open = new Map<string, number>();
  #total = 0;
  #refused = 0;

  constructor(
    /** 0 = no limit. */
    readonly perAddress: number,
    private readonly nodeId: () => string,
    /** Called for each refusal (the node counts it). */
    private readonly onRefused: () => void = () => {},
  ) {}

  /** Open connections on the HTTP port, all addresses together. */
  get total(): number {
    return this.#total;
  }

  /** Connections refused since the start. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Puts the gate in front of the server's own connection handler (the HTTP parser), so a refused socket is
   * never parsed. Call before anything else listens for 'connection'.
   */
  attach(server: Server): void {
    const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.#admit(socket)) return;
      for (const handler of handlers) handler.call(server, socket);
    });
  }

  #admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const count = (this.#open.get(address) ?? 0) + 1;
    if (this.perAddress > 0 && count > this.perAddress) {
      this.#refused++;
      this.onRefused();
      refuse(socket, this.perAddress, this.nodeId());
      return false;
    }
    this.#open.set(address, count);
    this.#total++;
    socket.once('close', () => {
      this.#total--;
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left <= 0) this.#open.delete(address);
      else this.#open.set(address, left);
    });
    return true;
  }
}

function refuse(socket: Socket, limit: number, node: string): void {
  const error = new NexoError(
    'TOO_MANY_CONNECTIONS',
    `this address already has ${limit} connections open to the node; close some and retry`,
    { limit },
  );
  socket.on('error', () => {});
  // Nothing of the request is parsed: the answer goes out at once, what the client sent is discarded.
  socket.resume();
  socket.end(rawErrorResponse(error, node));
  setTimeout(() => socket.destroy(), 1000).unref();
}
