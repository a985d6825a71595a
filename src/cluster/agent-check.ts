import net from 'node:net';

/**
 * HAProxy's agent-check (HAProxy configuration manual, `agent-check`): HAProxy connects to this port every
 * `agent-inter`, optionally sends its `agent-send` string, and reads one ASCII line; this agent answers at
 * once and closes. The line is `up ready 75%` (the weight is a share of the server's configured weight) or
 * `drain` (weight 0: no new connections, the open ones stay), so HAProxy follows the node's load and its
 * drain without a reload.
 *
 * `ready` is needed: `drain` sets HAProxy's administrative DRAIN state, which `up` and a weight alone do not
 * clear, so a node restarted after a drain the agent had seen stayed "DRAIN (agent)", taking no new
 * connection, until HAProxy was reloaded (found by test/cluster/rolling-restart.test.ts on a loaded machine).
 * It also clears a MAINT set on the runtime API: `nexo haproxy-sync` sets that only for a node that left the
 * membership, which a node that can reach NATS and answers ready soon re-enters.
 */
export interface AgentCheck {
  address(): { host: string; port: number };
  /** Connections answered since the start. */
  readonly answered: number;
  close(): Promise<void>;
}

/** What the agent says now: `drain`, or `up` and a weight of 1..100 percent. */
export type AgentReply = { state: 'drain' } | { state: 'up'; weight: number };

export function agentLine(reply: AgentReply): string {
  return reply.state === 'drain'
    ? 'drain\n'
    : `up ready ${Math.min(100, Math.max(1, Math.round(reply.weight)))}%\n`;
}

/** What an agent connection may send (HAProxy's `agent-send`) before it is cut. */
const MAX_INPUT_BYTES = 1024;
/** How long an agent connection may stay open after it was accepted (HAProxy reads one line at once). */
const LIFETIME_MS = 2000;

export async function startAgentCheck(
  host: string,
  port: number,
  reply: () => AgentReply,
  maxConnections = 64,
): Promise<AgentCheck> {
  let answered = 0;
  const server = net.createServer({ allowHalfOpen: false }, (socket) => {
    answered++;
    socket.on('error', () => {});
    // Whatever HAProxy sent (agent-send, a short line) is read and ignored: the answer does not depend on
    // it. More than that is not HAProxy: a peer that keeps writing is cut rather than read forever.
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_INPUT_BYTES) socket.destroy();
    });
    // A lifetime, not an idle timeout: a peer that trickles bytes and never reads is cut all the same.
    const deadline = setTimeout(() => socket.destroy(), LIFETIME_MS);
    deadline.unref();
    socket.once('close', () => clearTimeout(deadline));
    socket.end(agentLine(reply()));
  });
  // Bounded: HAProxy opens one connection per server per check; anything beyond this is not HAProxy.
  server.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address() {
      const a = server.address() as net.AddressInfo;
      return { host: a.address, port: a.port };
    },
    get answered() {
      return answered;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
