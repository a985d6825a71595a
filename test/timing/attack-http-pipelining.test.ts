import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ATTACK_MS,
  attackerAddress,
  describeLatencies,
  expectServed,
  limitedCounts,
  sampleRss,
  sleep,
  startBystander,
  TEST_MS,
} from '../helpers/attack.js';
import { freePort, type ServerProcess, spawnServer } from '../helpers/node.js';

/**
 * Acceptance (issue #12 part 4): 150 keep-alive HTTP connections that send requests back to back and never
 * read a reply. Each is cut (more requests waiting than one connection may have, docs/http.md "Limits");
 * the node's RSS stays under 400 MB; a well-behaved HTTP client and a protocol client beside them keep a
 * p99 under 50 ms and never time out.
 */

let server: ServerProcess;
let httpPort: number;

beforeAll(async () => {
  httpPort = await freePort();
  server = await spawnServer(['--http-port', String(httpPort), '--no-udp']);
});
afterAll(async () => {
  await server?.stop();
});

const REQUESTS = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100));

/** One pipeliner: writes as fast as its socket takes bytes and never reads; counts being cut. */
function pipeliner(i: number, state: { cut: number; stop: boolean }): void {
  const socket = net.connect({ port: httpPort, host: '127.0.0.1', localAddress: attackerAddress(i) });
  socket.pause(); // never reads
  socket.on('error', () => {});
  const pump = () => {
    while (!socket.destroyed && !state.stop && socket.write(REQUESTS)) {}
  };
  socket.on('connect', pump);
  socket.on('drain', pump);
  socket.on('close', () => {
    if (!state.stop) state.cut++;
  });
}

describe('hostile HTTP clients: pipelining without reading (acceptance)', () => {
  it(
    `150 pipeliners for ${ATTACK_MS / 1000} s: cut, RSS < 400 MB, bystanders' p99 < 50 ms`,
    async () => {
      const http = startBystander({ kind: 'http', port: httpPort });
      const tcp = startBystander({ kind: 'tcp', port: server.port });
      await Promise.all([http.ready, tcp.ready]);
      await sleep(1500); // baseline
      http.mark();
      tcp.mark();
      const rss = sampleRss(server.child.pid!);
      const state = { cut: 0, stop: false };
      for (let i = 0; i < 150; i++) pipeliner(i, state);
      await sleep(ATTACK_MS);
      state.stop = true;
      const maxRss = rss.stop();
      const limited = await limitedCounts(httpPort);
      const [httpPhases, tcpPhases] = await Promise.all([http.stop(), tcp.stop()]);
      const report = [
        `RSS max ${maxRss.toFixed(0)} MB, ${state.cut} hostile connections saw their end; node: ${JSON.stringify(limited)}`,
        describeLatencies('HTTP baseline', httpPhases[0]!),
        describeLatencies('HTTP under attack', httpPhases[1]!),
        describeLatencies('TCP baseline', tcpPhases[0]!),
        describeLatencies('TCP under attack', tcpPhases[1]!),
      ].join('\n  ');
      console.info(`HTTP pipelining attack:\n  ${report}`);
      expect(limited.http_pipelined ?? 0, report).toBeGreaterThanOrEqual(150);
      expect(maxRss, report).toBeLessThan(400);
      expectServed(httpPhases, report);
      expectServed(tcpPhases, report);
    },
    TEST_MS,
  );
});
