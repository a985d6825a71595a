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
    // Whatever HAProxy sent (agent-send) is read and ignored; the answer does not depend on it.
    socket.on('data', () => {});
    socket.setTimeout(2000, () => socket.destroy());
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
