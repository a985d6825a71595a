import dgram from 'node:dgram';
import net from 'node:net';
import type { TransportListener } from '../types.js';

/** One datagram and where it came from. */
export interface Datagram {
  readonly bytes: Buffer;
  readonly address: string;
  readonly port: number;
}

/**
 * What the node does with a datagram. It resolves when the datagram has been dealt with (its reply sent or
 * dropped): until then it counts against the listener's queue of pending datagrams.
 */
export type DatagramHandler = (datagram: Datagram) => void | Promise<void>;

export interface UdpListenOptions {
  host: string;
  port: number;
  /** §13.1.5 Datagrams being handled at once; beyond it new ones are dropped and counted. */
  maxPending: number;
  /** Datagrams longer than this are dropped unread (counted). */
  maxDatagram: number;
}

export interface UdpStats {
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Dropped because `maxPending` datagrams were being handled already (§13.1.5). */
  droppedBusy: number;
  /** Dropped because they were longer than `maxDatagram`. */
  droppedOversize: number;
  /** Sends the kernel refused (buffer full, unreachable). */
  sendErrors: number;
}

export interface UdpListener extends TransportListener {
  readonly kind: 'udp';
  readonly stats: UdpStats;
  /** Datagrams being handled now. */
  readonly pending: number;
  send(bytes: Uint8Array, port: number, address: string): void;
}

/**
 * A bound UDP socket: datagrams in, datagrams out, nothing else. It knows no nexo: the node's handler reads
 * each datagram. Handling is bounded (§13.1.5): a flood beyond `maxPending` datagrams in progress is dropped
 * here, before any work is done for it.
 */
export function listenUdp(options: UdpListenOptions, handler: DatagramHandler): Promise<UdpListener> {
  const type = net.isIPv6(options.host) ? 'udp6' : 'udp4';
  // A larger receive buffer rides out bursts (the kernel caps it at net.core.rmem_max).
  const socket = dgram.createSocket({ type, reuseAddr: false, recvBufferSize: 4 * 1024 * 1024 });
  const stats: UdpStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    droppedBusy: 0,
    droppedOversize: 0,
    sendErrors: 0,
  };
  let pending = 0;
  let closed = false;
  const done = () => {
    pending--;
  };
  socket.on('message', (bytes, rinfo) => {
    stats.datagramsIn++;
    stats.bytesIn += bytes.length;
    if (closed) return;
    if (bytes.length > options.maxDatagram) {
      stats.droppedOversize++;
      return;
    }
    if (pending >= options.maxPending) {
      stats.droppedBusy++;
      return;
    }
    pending++;
    try {
      const result = handler({ bytes, address: rinfo.address, port: rinfo.port });
      if (result instanceof Promise) result.then(done, done);
      else done();
    } catch {
      done();
    }
  });
  // ICMP errors (a peer's port closed) surface as socket errors on some systems; they must not end the node.
  socket.on('error', () => {
    stats.sendErrors++;
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: options.host, port: options.port, exclusive: true }, () => {
      socket.off('error', reject);
      const bound = socket.address();
      resolve({
        kind: 'udp',
        stats,
        get pending() {
          return pending;
        },
        address: () => ({ host: bound.address, port: bound.port }),
        send(bytes, port, address) {
          if (closed) return;
          stats.datagramsOut++;
          stats.bytesOut += bytes.length;
          socket.send(bytes, port, address, (err) => {
            if (err) stats.sendErrors++;
          });
        },
        close: () =>
          new Promise<void>((finish) => {
            if (closed) return finish();
            closed = true;
            socket.close(() => finish());
          }),
      });
    });
  });
}
