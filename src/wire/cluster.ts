/**
 * The cluster's membership as it travels: a node's entry in the membership bucket (written by
 * src/cluster/membership.ts), and what `node.members` answers (docs/protocol.md §9, node). Pure, safe for
 * browsers: the dashboard's Cluster page and the client's discovery (§14.1.4) read it.
 */

/** The layout of a member entry that this nexo writes and reads (§9.N.3). */
export const MEMBER_FORMAT = 1;

/** Where a node is in its life, as the membership shows it. */
export type MemberState = 'starting' | 'ready' | 'draining';

/** A node's load as the membership announces it and the agent-check weighs it. */
export interface Load {
  /** Open connections (every transport, HTTP included). */
  readonly connections: number;
  /** Requests per second over the last sampling period. */
  readonly requestsPerSec: number;
  /** Mean event-loop delay over the last sampling period, in milliseconds. */
  readonly eventLoopDelayMs: number;
}

/**
 * One node's entry in the cluster's membership bucket (`<cluster>_members`, NATS KV): what a balancer or an
 * operator needs to reach it and judge it. Written as JSON by the node itself, every `MEMBERSHIP.intervalMs`.
 */
export interface Member {
  /** §9.N.3 The entry's layout; readers skip any other (absent: 1, as written before it was added). */
  readonly format?: typeof MEMBER_FORMAT;
  readonly id: string;
  readonly cluster: string;
  /** nexo's version (the server name of WELCOME). */
  readonly version: string;
  /** The address other hosts reach it at (--advertise, else the listening address, else the first non-loopback IPv4). */
  readonly host: string;
  readonly ports: MemberPorts;
  readonly pid: number;
  /** When the node started (ms since the epoch). */
  readonly startedAt: number;
  readonly uptimeS: number;
  readonly state: MemberState;
  readonly load: Load;
  /** When this entry was written (ms since the epoch, the node's clock). */
  readonly updatedAt: number;
}

export interface MemberPorts {
  /** The nexo protocol and text mode (TCP). */
  readonly tcp: number;
  readonly tls?: number;
  /** REST API, WebSocket /ws, dashboard, /readyz. */
  readonly http?: number;
  readonly udp?: number;
  /** HAProxy agent-check. */
  readonly agent?: number;
}

/**
 * What `node.members` answers: the live members (sorted by id) as the answering node reads them, and which
 * one it is. `cluster` is null on a node that is not in cluster mode (embedded storage): `members` is then
 * that node alone, its entry made on the spot.
 */
export interface ClusterMembers {
  readonly cluster: string | null;
  readonly self: string;
  readonly members: readonly Member[];
}

/** `host:port` of a member's protocol port, IPv6 hosts in brackets (GOAWAY's alternates, §7.3.5; §14.1.4). */
export function memberEndpoint(member: Pick<Member, 'host' | 'ports'>, port = member.ports.tcp): string {
  return member.host.includes(':') ? `[${member.host}]:${port}` : `${member.host}:${port}`;
}
