import dgram from 'node:dgram';
import { once } from 'node:events';

/**
 * A UDP client socket for tests: send datagrams, collect what comes back from the ports it sent to. Others
 * are set aside in `stray`: with test files in parallel, an ephemeral port freed by another test's sensor
 * may be reused here while that test's node still retransmits to it.
 */
export class UdpPeer {
  readonly socket = dgram.createSocket('udp4');
  readonly received: Buffer[] = [];
  readonly stray: Buffer[] = [];
  readonly #sentTo = new Set<number>();
  #waiters: (() => void)[] = [];

  static async open(): Promise<UdpPeer> {
    const peer = new UdpPeer();
    peer.socket.on('message', (m, from) => {
      if (!peer.#sentTo.has(from.port)) {
        peer.stray.push(m);
        return;
      }
      peer.received.push(m);
      for (const w of peer.#waiters.splice(0)) w();
    });
    peer.socket.bind(0, '127.0.0.1');
    await once(peer.socket, 'listening');
    return peer;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Uint8Array | string, port: number): Promise<void> {
    this.#sentTo.add(port);
    return new Promise((resolve, reject) =>
      this.socket.send(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, port, '127.0.0.1', (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  /** The next datagram, or undefined when none comes within `ms`. */
  async next(ms = 1000): Promise<Buffer | undefined> {
    const deadline = Date.now() + ms;
    while (this.received.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.shift();
  }

  /** Sends one datagram and returns the reply as text ('' when none came). */
  async ask(text: string | Uint8Array, port: number, ms = 1000): Promise<string> {
    await this.send(text, port);
    return (await this.next(ms))?.toString('utf8') ?? '';
  }

  close(): void {
    this.socket.close();
  }
}
