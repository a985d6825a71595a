import net from 'node:net';

export interface ProxyOptions {
  /** Bytes per second each way (default: unlimited). */
  rate?: number;
}

/**
 * A TCP proxy in front of a server, for tests that need a slow link or a connection that dies mid-transfer:
 * it counts the bytes each way, can throttle them, and can cut every open connection at once (both sockets
 * destroyed, like a network failure). It can also refuse new connections for a while.
 */
export class TcpProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  /** Bytes forwarded client → server and server → client, over all connections. */
  up = 0;
  down = 0;
  refusing = false;
  rate: number | undefined;

  private constructor(
    readonly targetPort: number,
    options: ProxyOptions,
  ) {
    this.rate = options.rate;
    this.#server = net.createServer((client) => this.#accept(client));
  }

  static async start(targetPort: number, options: ProxyOptions = {}): Promise<TcpProxy & { port: number }> {
    const proxy = new TcpProxy(targetPort, options);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return Object.assign(proxy, { port: (proxy.#server.address() as net.AddressInfo).port });
  }

  /** Destroys every open connection (both ends), as a broken network would. */
  cutAll(): void {
    for (const { client, upstream } of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  get connections(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ port: this.targetPort, host: '127.0.0.1' });
    const pair = { client, upstream };
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    this.#pipe(client, upstream, (n) => {
      this.up += n;
    });
    this.#pipe(upstream, client, (n) => {
      this.down += n;
    });
  }

  #pipe(from: net.Socket, to: net.Socket, count: (n: number) => void): void {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      const ok = to.write(chunk);
      const rate = this.rate;
      if (rate !== undefined) {
        from.pause();
        setTimeout(() => from.resume(), (chunk.length / rate) * 1000);
      } else if (!ok) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  }
}
