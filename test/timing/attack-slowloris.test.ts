import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  ATTACK_MS,
  attackedNode,
  attackerAddress,
  expectServed,
  runAttack,
  slowloris,
  TEST_MS,
  together,
} from '../helpers/attack.js';
import { type CertSet, makeCerts } from '../helpers/certs.js';
import { freePort } from '../helpers/node.js';

/**
 * Acceptance (issue #12 part 4): 500 slowloris connections on each port (protocol TCP, TLS, HTTP), each
 * from an address of its own (the per-address caps, §7.6.1 and http.md "Limits", do not hide them): they
 * connect (over 2 s) and send nothing, or half a preface, or half a first line or half an HTTP head a byte a second,
 * or (TLS) no ClientHello at all. Each is cut by the handshake timeout (§5.1, §8.6; TLS: the TLS handshake
 * timeout) or the HTTP header timeout, here 3 s so that an 8 s run sees them all cut; the node's RSS stays
 * under 400 MB; well-behaved TCP, TLS and HTTP clients beside them keep a p99 under 50 ms and never time out.
 */

const PER_PORT = 500;
let certs: CertSet;
let tlsPort: number;
const node = attackedNode(async () => {
  certs = await makeCerts([]);
  tlsPort = await freePort();
  return [
    '--tls-port',
    String(tlsPort),
    '--tls-cert',
    certs.cert,
    '--tls-key',
    certs.key,
    '--handshake-timeout',
    '3s',
    '--http-request-timeout',
    '3s',
    '--no-https', // the HTTP port stays plain: its bystander and /metrics speak HTTP
  ];
});

const tcpTo = (port: number, offset: number) => (i: number) =>
  net.connect({ port, host: '127.0.0.1', localAddress: attackerAddress(offset + i, 2000) });

describe('hostile clients: slowloris on every port (acceptance)', () => {
  it(
    `${PER_PORT} slowloris connections per port for ${ATTACK_MS / 1000} s: all cut, RSS < 400 MB, bystanders' p99 < 50 ms`,
    async () => {
      const port = node.server.port;
      const quarter = PER_PORT / 4;
      const half = PER_PORT / 2;
      const r = await runAttack(
        node,
        'slowloris',
        [
          { kind: 'tcp', port },
          { kind: 'tls', port: tlsPort, ca: certs.ca },
          { kind: 'http', port: node.httpPort },
        ],
        () =>
          together([
            // Protocol port: silent, half a preface, half a text line dripping.
            slowloris({ count: quarter, connect: tcpTo(port, 0) }),
            slowloris({ count: quarter, connect: tcpTo(port, 125), first: Buffer.from([0x8e, 0x4e]) }),
            slowloris({ count: half, connect: tcpTo(port, 250), drip: Buffer.from('calc 1+1+1+1+1+1+1') }),
            // TLS port: no ClientHello; a finished TLS handshake, then half a line dripping.
            slowloris({ count: half, connect: tcpTo(tlsPort, 500) }),
            slowloris({
              count: half,
              connect: (i) =>
                tls.connect({
                  socket: tcpTo(tlsPort, 750)(i),
                  ca: certs.read(certs.ca),
                  servername: 'localhost',
                }),
              drip: Buffer.from('greet Ana Bob Carla Dora Eva'),
            }),
            // HTTP port: a head that never ends.
            slowloris({
              count: PER_PORT,
              connect: tcpTo(node.httpPort, 1000),
              first: Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n'),
              drip: Buffer.from('X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'),
            }),
          ]),
      );
      expect(r.opened, r.report).toBe(3 * PER_PORT);
      expect(r.cut, r.report).toBe(3 * PER_PORT);
      expect(r.maxRss, r.report).toBeLessThan(400);
      for (const phases of r.phases) expectServed(phases, r.report);
    },
    TEST_MS,
  );
});
