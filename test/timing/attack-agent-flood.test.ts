import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ATTACK_MS,
  attackerAddress,
  describeLatencies,
  expectServed,
  sleep,
  startBystander,
  TEST_MS,
} from '../helpers/attack.js';
import { agentSays } from '../helpers/haproxy.js';
import { freePort, type ServerProcess, spawnServer } from '../helpers/node.js';

/**
 * HAProxy's agent-check port under a flood (issue #11): 300 connections from 200 addresses that send
 * partial lines (never a newline) as fast as the node takes them and never read the answer, reconnecting
 * whenever they are cut. Each is cut within its lifetime (2 s from accept, or at once past 1 KiB of input:
 * agent-check.ts), the protocol port's well-behaved client beside them keeps its p99 and never times out,
 * and the agent answers HAProxy normally once the flood stops.
 */
let server: ServerProcess;
let agentPort: number;

beforeAll(async () => {
  agentPort = await freePort();
  server = await spawnServer(['--agent-port', String(agentPort), '--no-udp']);
});
afterAll(async () => {
  await server?.stop();
});

const PARTIAL = Buffer.from('up 5'.repeat(1024)); // 4 KiB, no newline

interface FloodState {
  stop: boolean;
  connections: number;
  cut: number;
  /** Longest time from connect to close of a hostile connection, ms. */
  longestMs: number;
  sockets: Set<net.Socket>;
}

/** One flooder: writes partial lines without reading, and comes back whenever it is cut. */
function flooder(i: number, state: FloodState): void {
  if (state.stop) return;
  const socket = net.connect({ port: agentPort, host: '127.0.0.1', localAddress: attackerAddress(i) });
  state.sockets.add(socket);
  state.connections++;
  let since = 0;
  socket.pause(); // never reads the answer
  socket.on('error', () => {});
  const pump = () => {
    while (!socket.destroyed && !state.stop && socket.write(PARTIAL)) {}
  };
  socket.on('connect', () => {
    since = performance.now();
    pump();
  });
  socket.on('drain', pump);
  socket.on('close', () => {
    state.sockets.delete(socket);
    if (state.stop) return;
    state.cut++;
    if (since > 0) state.longestMs = Math.max(state.longestMs, performance.now() - since);
    setTimeout(() => flooder(i, state), 20);
  });
}

describe('hostile clients on the agent-check port', () => {
  it(
    `300 partial-line writers that never read, for ${ATTACK_MS / 1000} s: cut, the protocol bystander unharmed`,
    async () => {
      expect(await agentSays(agentPort)).toMatch(/^up ready \d+%\n$/);
      const tcp = startBystander({ kind: 'tcp', port: server.port });
      await tcp.ready;
      await sleep(1500); // baseline
      tcp.mark();
      const state: FloodState = { stop: false, connections: 0, cut: 0, longestMs: 0, sockets: new Set() };
      for (let i = 0; i < 300; i++) flooder(i, state);
      await sleep(ATTACK_MS);
      // Still open at the end: how long have they lived?
      state.stop = true;
      for (const s of state.sockets) s.destroy();
      const phases = await tcp.stop();
      const report = [
        `${state.connections} hostile connections, ${state.cut} cut by the node, the longest lived ${state.longestMs.toFixed(0)} ms`,
        describeLatencies('TCP baseline', phases[0]!),
        describeLatencies('TCP under attack', phases[1]!),
      ].join('\n  ');
      console.info(`agent-check flood:\n  ${report}`);
      expectServed(phases, report);
      // Every hostile connection is cut by the node; none outlives its 2 s (with room for a loaded machine).
      expect(state.cut, report).toBeGreaterThanOrEqual(300);
      expect(state.longestMs, report).toBeLessThan(5000);
      // And HAProxy is answered again as soon as the flood is over.
      let line = '';
      for (let i = 0; i < 20 && !/^up ready/.test(line); i++) {
        line = await agentSays(agentPort).catch(() => '');
        if (!/^up ready/.test(line)) await sleep(250);
      }
      expect(line).toMatch(/^up ready \d+%\n$/);
    },
    TEST_MS,
  );
});
