import dgram from 'node:dgram';
import net from 'node:net';
import { NexoError } from '../errors.js';
import { ClientHandshake } from '../transport/udp/handshake.js';
import { keyFromToken } from '../transport/udp/keys.js';
import type { ChannelOptions } from '../transport/udp/reliable.js';
import { SecureSession } from '../transport/udp/secure-session.js';
import { DatagramType, sessionIdOf } from '../transport/udp/wire.js';
import type { ClientSocket, Endpoint, SocketFactory } from './socket.js';

export interface UdpSocketOptions {
  /**
   * The token whose key authenticates the session (spec §13.3.3); the same token should go in HELLO
   * (`ClientOptions.token`). None: the anonymous key, accepted by nodes that admit anonymous clients.
   */
  token?: string | undefined;
  /** First wait for the node's COOKIE or WELCOME, doubled (with jitter) on each try. Default 250 ms. */
  helloRetryMs?: number;
  /** The reliable channel's settings (tests). */
  channel?: Partial<ChannelOptions>;
}

const MAX_HELLO_RETRY_MS = 2000;

/**
 * Secure sessions over UDP for the client in Node (spec §13.3): the same nexo byte stream as over TCP, so a
 * NexoClient (and a SensorClient on it) works unchanged; the handshake, encryption, acks and retransmission
 * happen underneath. The connection attempt ends when the node's WELCOME verifies, or fails when the node
 * refuses (AUTH_FAILED, SERVER_BUSY) or the signal aborts (the client's connect timeout).
 */
export function udpSocketFactory(options: UdpSocketOptions = {}): SocketFactory {
  const key = keyFromToken(options.token);
  return (endpoint: Endpoint, signal: AbortSignal) =>
    new Promise<ClientSocket>((resolve, reject) => {
      const socket = dgram.createSocket(net.isIPv6(endpoint.host) ? 'udp6' : 'udp4');
      const handshake = new ClientHandshake(key);
      let cookie: Buffer | undefined;
      let session: SecureSession | undefined;
      let wrapped: ClientSocket | undefined;
      let retry: NodeJS.Timeout | undefined;
      let wait = options.helloRetryMs ?? 250;
      let settled = false;
      let open = true;
      const closeSocket = () => {
        if (!open) return;
        open = false;
        socket.close();
      };
      const fail = (error: Error) => {
        clearTimeout(retry);
        signal.removeEventListener('abort', abort);
        if (!settled) {
          settled = true;
          reject(error);
        }
        closeSocket();
      };
      const abort = () => fail(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', abort, { once: true });
      const send = (bytes: Uint8Array) =>
        open &&
        socket.send(bytes, (err) => {
          if (err && session === undefined) fail(err);
        });
      const sendHello = () => {
        send(handshake.hello(cookie));
        // §13.3.2 Lost HELLO, COOKIE or WELCOME: send again, waiting twice as long (with jitter) each time.
        retry = setTimeout(sendHello, wait * (0.8 + 0.4 * Math.random()));
        wait = Math.min(MAX_HELLO_RETRY_MS, wait * 2);
      };
      socket.on('error', (err) => {
        if (session === undefined) fail(err);
        else session.destroy(err);
      });
      socket.on('message', (bytes) => {
        if (bytes.length < 2) return;
        const type = bytes[1];
        if (session !== undefined) {
          if (type === DatagramType.RECORD) session.receive(bytes);
          else if (
            type === DatagramType.RESET &&
            bytes.length >= 6 &&
            sessionIdOf(bytes) === session.record.sessionId
          ) {
            session.destroy(new Error('the node does not know this UDP session any more (RESET)'));
          }
          return;
        }
        // A new cookie (the first, or a fresh one after ours expired) is sent back at once; a repeat is not.
        if (type === DatagramType.COOKIE && bytes.length === 22 && !cookie?.equals(bytes.subarray(2))) {
          cookie = Buffer.from(bytes.subarray(2));
          clearTimeout(retry);
          wait = options.helloRetryMs ?? 250;
          sendHello();
        } else if (type === DatagramType.REFUSED) {
          const code = bytes
            .subarray(2, 66)
            .toString('ascii')
            .replace(/[^A-Z_]/g, '');
          fail(new NexoError(code || 'CONNECTION_REFUSED', `the node refused the UDP session (${code})`));
        } else if (type === DatagramType.WELCOME) {
          let record: ReturnType<ClientHandshake['welcome']>;
          try {
            record = handshake.welcome(bytes);
          } catch {
            return; // not from the node we greeted (or damaged): keep waiting for the real one
          }
          clearTimeout(retry);
          signal.removeEventListener('abort', abort);
          settled = true;
          const client: ClientSocket = {
            write: (b) => session!.write(b),
            end: () => session!.end(),
            destroy: () => session!.destroy(),
            pause: () => session!.pauseReceiving(),
            resume: () => session!.resumeReceiving(),
            onData: () => {},
            onDrain: () => {},
            onClose: () => {},
          };
          wrapped = client;
          session = new SecureSession(
            record,
            send,
            {
              onData: (b) => {
                wrapped!.onData(b);
                return true;
              },
              onEnd: () => session!.end(), // as a TCP socket without allowHalfOpen
              onDrain: () => wrapped!.onDrain(),
              onClose: (error) => {
                closeSocket();
                wrapped!.onClose(error);
              },
            },
            options.channel,
          );
          resolve(client);
        }
      });
      socket.connect(endpoint.port, endpoint.host, () => sendHello());
    });
}
