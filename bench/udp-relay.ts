import dgram from 'node:dgram';
import { once } from 'node:events';

export interface RelayOptions {
  /** Where the node listens. */
  target: { host: string; port: number };
  /** Where the relay listens for sensors (default 127.0.0.1, any free port). */
  host?: string;
  port?: number;
  /** Address the relay's upstream sockets bind to (default: the listening host). */
  upstreamHost?: string;
  /** Fraction of datagrams dropped, each direction. */
  loss?: number;
  /** Fraction of datagrams sent twice. */
  duplicate?: number;
  /** Each datagram waits a random 0..reorderMs before it is sent on, so later ones can overtake it. */
  reorderMs?: number;
  /** Seed of the relay's own random numbers (reproducible runs). */
  seed?: number;
  /** Sensors (source address:port) the relay serves at most. */
  maxClients?: number;
  /** Sees every datagram the relay receives (before loss): for tests that replay one. */
  tap?: (direction: 'up' | 'down', bytes: Buffer, client: string) => void;
}

export interface RelayStats {
  up: number;
  down: number;
  dropped: number;
  duplicated: number;
  delayed: number;
}

export interface Relay {
  readonly port: number;
  readonly stats: RelayStats;
  /** Sends bytes to the node as if from `client` (a replay). */
  inject(client: string, bytes: Uint8Array): void;
  close(): Promise<void>;
}

/**
 * A UDP relay of the tests' and benchmarks' own between sensors and a node: it drops, duplicates and
 * reorders datagrams at the rates given, one upstream socket per sensor so the node sees each sensor as its
 * own peer (as behind a NAT). Loss by the relay stands in for netem, which this kernel lacks.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const loss = options.loss ?? 0;
  const duplicate = options.duplicate ?? 0;
  const reorderMs = options.reorderMs ?? 0;
  const maxClients = options.maxClients ?? 10_000;
  const random = mulberry32(options.seed ?? 1);
  const stats: RelayStats = { up: 0, down: 0, dropped: 0, duplicated: 0, delayed: 0 };
  const front = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  const upstream = new Map<string, dgram.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const forward = (send: () => void) => {
    if (random() < loss) {
      stats.dropped++;
      return;
    }
    const copies = random() < duplicate ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      const delay = reorderMs > 0 ? random() * reorderMs : 0;
      if (delay < 0.5) send();
      else {
        stats.delayed++;
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!closed) send();
        }, delay);
        timers.add(timer);
      }
    }
  };

  const socketFor = async (
    client: string,
    address: string,
    port: number,
  ): Promise<dgram.Socket | undefined> => {
    let socket = upstream.get(client);
    if (socket !== undefined) return socket;
    if (upstream.size >= maxClients) return undefined;
    socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    upstream.set(client, socket);
    socket.on('error', () => {});
    socket.on('message', (bytes) => {
      stats.down++;
      options.tap?.('down', bytes, client);
      forward(() => !closed && front.send(bytes, port, address));
    });
    socket.bind(0, options.upstreamHost ?? options.host ?? '127.0.0.1');
    await once(socket, 'listening');
    return socket;
  };

  front.on('error', () => {});
  front.on('message', (bytes, rinfo) => {
    const client = `${rinfo.address}:${rinfo.port}`;
    stats.up++;
    options.tap?.('up', bytes, client);
    void socketFor(client, rinfo.address, rinfo.port).then((socket) => {
      if (socket === undefined) return;
      forward(() => !closed && socket.send(bytes, options.target.port, options.target.host));
    });
  });
  front.bind(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(front, 'listening');
  return {
    port: front.address().port,
    stats,
    inject(client, bytes) {
      upstream.get(client)?.send(bytes, options.target.port, options.target.host);
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      for (const socket of upstream.values()) socket.close();
      front.close();
    },
  };
}

/** A small seeded PRNG (mulberry32): the relay's losses are the same from run to run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
