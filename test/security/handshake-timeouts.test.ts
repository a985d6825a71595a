import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { PREFACE } from '../../src/protocol/constants.js';
import { limitedIn } from '../helpers/attack.js';
import { type CertSet, makeCerts } from '../helpers/certs.js';
import { startNode } from '../helpers/node.js';

/**
 * Handshakes that never finish are cut by handshakeTimeout and counted in nexo_limited_total, each under its
 * own reason (docs/http.md "Metrics", protocol §5.1.1, §8.6): over real sockets, read from the node's metrics.
 */
const TIMEOUT_MS = 300;
let certs: CertSet;
let node: NexoNode & { port: number };
let tlsPort: number;

beforeAll(async () => {
  certs = await makeCerts();
  node = await startNode({
    handshakeTimeout: TIMEOUT_MS,
    tls: { port: 0, cert: certs.cert, key: certs.key, ca: certs.ca, clientAuth: 'none' },
  });
  tlsPort = node.tlsAddress()!.port;
});
afterAll(() => node?.close({ timeoutMs: 500 }));

const limited = async () => limitedIn(await node.metrics.text());

/** Opens a TCP connection, writes `bytes`, then waits (at most 5 s) for the node to close it. */
function stall(port: number, bytes: Uint8Array | string = ''): Promise<{ ms: number; received: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => {
      if (bytes.length > 0) socket.write(bytes);
    });
    let received = '';
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
    });
    socket.on('error', () => {}); // a reset is a close too
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the node did not close a stalled connection within 5 s (port ${port})`));
    }, 5000);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ ms: Date.now() - started, received });
    });
  });
}

/** The counter of `reason` after `act`, minus before it; waits for the scrape to show the change. */
async function counted(reason: string, act: () => Promise<unknown>): Promise<number> {
  const before = (await limited())[reason] ?? 0;
  await act();
  const deadline = Date.now() + 2000;
  let after = before;
  while (Date.now() < deadline) {
    after = (await limited())[reason] ?? 0;
    if (after > before) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return after - before;
}

describe('handshake timeouts are counted in nexo_limited_total', () => {
  it('a TLS handshake that never starts (TCP open, no ClientHello): tls_handshake_timeout', async () => {
    let cut: { ms: number } | undefined;
    const n = await counted('tls_handshake_timeout', async () => {
      cut = await stall(tlsPort);
    });
    expect(n).toBe(1);
    expect(cut!.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  });

  it('a TLS handshake stalled mid-ClientHello (a record header announcing bytes never sent)', async () => {
    // handshake record, TLS 1.0 record version, 512 bytes announced; then the first bytes of a ClientHello
    const partial = Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03);
    const n = await counted('tls_handshake_timeout', () => stall(tlsPort, partial));
    expect(n).toBe(1);
  });

  it('a finished TLS handshake that then sends nothing is a mode timeout, not a TLS one', async () => {
    const before = await limited();
    const closed = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const s = tls.connect({
        host: '127.0.0.1',
        port: tlsPort,
        ca: certs.read(certs.ca),
        servername: 'localhost',
      });
      s.on('error', () => {});
      const guard = setTimeout(() => {
        s.destroy();
        reject(new Error('not closed within 5 s'));
      }, 5000);
      s.on('close', () => {
        clearTimeout(guard);
        resolve(Date.now() - started);
      });
      s.resume();
    });
    expect(closed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    const after = await limited();
    expect((after.mode_timeout ?? 0) - (before.mode_timeout ?? 0)).toBe(1);
    expect(after.tls_handshake_timeout ?? 0).toBe(before.tls_handshake_timeout ?? 0);
  });

  it('a plain connection that sends no first byte: mode_timeout, after the notice (§8.6)', async () => {
    let cut: { received: string } | undefined;
    const n = await counted('mode_timeout', async () => {
      cut = await stall(node.port);
    });
    expect(n).toBe(1);
    expect(cut!.received).toContain(`nexo: no input within ${TIMEOUT_MS} ms; closing`);
  });

  it('a binary preface with no HELLO: hello_timeout, with ERROR HANDSHAKE_TIMEOUT (§5.1.1)', async () => {
    let cut: { received: string } | undefined;
    const n = await counted('hello_timeout', async () => {
      cut = await stall(node.port, PREFACE);
    });
    expect(n).toBe(1);
    expect(cut!.received).toContain('HANDSHAKE_TIMEOUT');
  });

  it('a text session whose first line never ends (slowloris): hello_timeout (§8.6)', async () => {
    let cut: { received: string } | undefined;
    const n = await counted('hello_timeout', async () => {
      cut = await stall(node.port, 'calc 1+');
    });
    expect(n).toBe(1);
    expect(cut!.received).toContain('no complete line');
  });

  it('a connection that completes its handshake in time is not counted', async () => {
    const before = await limited();
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(node.port, '127.0.0.1', () => s.end('calc 2*3\n'));
      let out = '';
      s.on('data', (d: Buffer) => {
        out += d.toString();
      });
      s.on('error', reject);
      s.on('close', () => resolve(out));
    });
    expect(reply).toContain('6');
    const after = await limited();
    for (const reason of ['mode_timeout', 'hello_timeout', 'tls_handshake_timeout'])
      expect(after[reason] ?? 0, reason).toBe(before[reason] ?? 0);
  });
});
