import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';

/** Requests of one connection handled at once; the next wait in line, and the socket stops being read. */
export const HTTP_PIPELINE_RUNNING = 4;
/** Requests one connection may have waiting in line; one more and it is cut (docs/http.md "Limits"). */
export const HTTP_PIPELINE_QUEUED = 16;
/** Bytes handed to Node's HTTP parser at a time (see sliceReads). */
const PARSE_SLICE = 1024;

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface Line {
  running: number;
  queue: [IncomingMessage, ServerResponse][];
  /** We paused the socket (Node's parser may pause it too: resume only what we paused). */
  paused: boolean;
  /** When our replies stopped leaving (write buffer over its mark); 0 while they flow. */
  blockedSince: number;
}

export interface PipelineLimits {
  /** Bytes of replies a connection may leave unread (the node's maxOutbound). */
  maxOutbound: number;
  /** How long replies may stay unread (the node's slowPeerTimeout). */
  slowPeerTimeoutMs: number;
  /** A connection was cut: too many requests waiting, or replies unread. */
  onCut(why: 'pipelined' | 'unread'): void;
}

/**
 * Bounds what one HTTP connection can make the node do (the protocol port's rules, spec §6.8.2 and §7.4.2,
 * applied to HTTP/1.1): a client that pipelines requests back to back gets HTTP_PIPELINE_RUNNING handled at a
 * time, the rest wait in line while its socket is not read, and past HTTP_PIPELINE_QUEUED waiting it is cut.
 * A connection whose replies go unread (over maxOutbound, or blocked longer than slowPeerTimeout) is cut too.
 * Node alone keeps parsing and answering: one read of 64 KiB holds ~1900 small requests, and the kernel's
 * buffers take megabytes of replies from a client that never reads before any write blocks.
 */
export class PipelineGuard {
  readonly #lines = new Map<Socket, Line>();
  readonly #timer: NodeJS.Timeout;
  #cut = 0;

  constructor(private readonly limits: PipelineLimits) {
    this.#timer = setInterval(
      () => this.#sweep(),
      Math.max(50, Math.min(1000, limits.slowPeerTimeoutMs / 4)),
    );
    this.#timer.unref();
  }

  /** Connections cut by these rules since the start. */
  get cut(): number {
    return this.#cut;
  }

  /** Wraps the server's request handler. */
  wrap(handler: Handler): Handler {
    return (request, response) => {
      const socket = request.socket;
      // Cut already: Node still parses the rest of what it read (up to 64 KiB of requests); none of it runs.
      if (socket.destroyed) return;
      let line = this.#lines.get(socket);
      if (line === undefined) {
        line = { running: 0, queue: [], paused: false, blockedSince: 0 };
        this.#watch(socket, line);
      }
      if (line.running < HTTP_PIPELINE_RUNNING) {
        this.#run(socket, line, handler, request, response);
        return;
      }
      line.queue.push([request, response]);
      if (line.queue.length > HTTP_PIPELINE_QUEUED) {
        this.#drop(socket, line, 'pipelined');
        return;
      }
      if (!line.paused) {
        line.paused = true;
        socket.pause();
      }
    };
  }

  /** Puts sliceReads behind the server's connection handlers (after the per-address gate). */
  attach(server: Server): void {
    const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      for (const handler of handlers) handler.call(server, socket);
      sliceReads(socket);
    });
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #watch(socket: Socket, line: Line): void {
    this.#lines.set(socket, line);
    socket.once('close', () => {
      line.queue.length = 0;
      this.#lines.delete(socket);
    });
    socket.on('drain', () => {
      line.blockedSince = 0;
    });
  }

  #run(
    socket: Socket,
    line: Line,
    handler: Handler,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    line.running++;
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      line.running--;
      this.#afterReply(socket, line, handler);
    };
    response.once('finish', finished);
    response.once('close', finished);
    handler(request, response);
  }

  #afterReply(socket: Socket, line: Line, handler: Handler): void {
    if (socket.destroyed) return;
    if (socket.writableLength > this.limits.maxOutbound) {
      this.#drop(socket, line, 'unread');
      return;
    }
    while (line.running < HTTP_PIPELINE_RUNNING && line.queue.length > 0) {
      const [request, response] = line.queue.shift()!;
      this.#run(socket, line, handler, request, response);
    }
    if (line.queue.length === 0 && line.paused) {
      line.paused = false;
      // Node pauses a socket itself while replies wait for a write (its `_paused`); leave that one alone.
      if ((socket as Socket & { _paused?: boolean })._paused !== true) socket.resume();
    }
  }

  #drop(socket: Socket, line: Line, why: 'pipelined' | 'unread'): void {
    this.#cut++;
    this.limits.onCut(why);
    line.queue.length = 0;
    socket.destroy();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [socket, line] of this.#lines) {
      if (line.blockedSince === 0 && socket.writableNeedDrain) line.blockedSince = now;
      else if (line.blockedSince !== 0 && now - line.blockedSince > this.limits.slowPeerTimeoutMs) {
        this.#drop(socket, line, 'unread');
      }
    }
  }
}

type HttpSocket = Socket & { parser?: unknown; _paused?: boolean };

/**
 * Node's HTTP parser reads from the socket itself and parses a whole read (64 KiB: ~1900 pipelined requests,
 * each made into a request and a response object) before anything can look: a cut connection still cost its
 * whole read. Here reads arrive as 'data' events (adding the listener makes Node stop consuming the socket
 * itself) and go to the parser PARSE_SLICE bytes at a time; between slices, a connection that was cut costs
 * nothing more, and one that was paused (by PipelineGuard, or by Node while replies wait) keeps the rest for
 * when it resumes. After an upgrade (WebSocket) the rest belongs to the new owner.
 */
function sliceReads(raw: Socket): void {
  const socket = raw as HttpSocket;
  const parser = socket.parser;
  if (parser === undefined || parser === null || socket.destroyed) return; // HTTPS: the TLS socket's own path
  const nodeListeners = socket.listeners('data') as ((chunk: Buffer) => void)[];
  if (nodeListeners.length !== 1) return;
  const parse = nodeListeners[0]!;
  socket.removeListener('data', parse);
  const sliced = (chunk: Buffer) => {
    let offset = 0;
    for (;;) {
      if (socket.destroyed) return;
      if (socket.parser !== parser) {
        // Upgraded (or the parser was freed): this listener is done, the rest is the new protocol's.
        socket.removeListener('data', sliced);
        if (offset < chunk.length) socket.unshift(chunk.subarray(offset));
        return;
      }
      if (offset >= chunk.length) return;
      if (socket._paused === true || socket.isPaused()) {
        socket.unshift(chunk.subarray(offset));
        return;
      }
      const end = Math.min(chunk.length, offset + PARSE_SLICE);
      parse(chunk.subarray(offset, end));
      offset = end;
    }
  };
  socket.on('data', sliced);
}
