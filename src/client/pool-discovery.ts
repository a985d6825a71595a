import type { ClusterMembers } from '../wire/cluster.js';
import type { Member } from './pool-member.js';
import { type Endpoint, formatEndpoint } from './socket.js';

export interface DiscoverOptions {
  /** How often the membership is read again. Default 5000 ms. */
  intervalMs?: number;
  /**
   * Which port of a member to connect to: `tcp` (the default; `tls` when the endpoints given are
   * `nexos://`), or `http` for a pool over WebSocket.
   */
  port?: 'tcp' | 'tls' | 'http';
}

export interface Discovery {
  readonly intervalMs: number;
  readonly port: 'tcp' | 'tls' | 'http';
}

/** §14.1.4 At most this many nodes are added from a membership (a bound against a hostile one). */
const MAX_DISCOVERED = 64;

/** The pool's `discover` option, checked, with its defaults; undefined when discovery is off. */
export function discoveryOf(
  discover: boolean | DiscoverOptions | undefined,
  endpoints: readonly Endpoint[],
): Discovery | undefined {
  if (discover === undefined || discover === false) return undefined;
  const given = discover === true ? {} : discover;
  const intervalMs = given.intervalMs ?? 5000;
  if (!Number.isInteger(intervalMs) || intervalMs < 100) {
    throw new TypeError(`connectPool: discover.intervalMs must be a whole number ≥ 100, got ${intervalMs}`);
  }
  const port = given.port ?? (endpoints.every((e) => e.tls === true) ? 'tls' : 'tcp');
  return { intervalMs, port };
}

export interface MembershipChange {
  readonly added: string[];
  readonly removed: string[];
}

/**
 * §14.1.4 Brings `members` in line with a membership read from a node: a member the pool does not reach yet
 * is added (`add`, then `reach`); a discovered one that left it and is neither connected nor busy is dropped.
 */
export function learnMembership(
  answer: ClusterMembers,
  port: Discovery['port'],
  members: Member[],
  add: (endpoint: Endpoint) => Member | undefined,
  reach: (member: Member) => void,
): MembershipChange {
  const live = new Set<string>();
  const known = new Set(members.map((m) => m.client.welcome?.node).filter((id) => id !== undefined));
  const added: string[] = [];
  for (const m of Array.isArray(answer?.members) ? answer.members.slice(0, MAX_DISCOVERED) : []) {
    const number = m?.ports?.[port];
    if (typeof m?.host !== 'string' || typeof number !== 'number' || m.state === 'draining') continue;
    const endpoint: Endpoint =
      port === 'tls' ? { host: m.host, port: number, tls: true } : { host: m.host, port: number };
    live.add(formatEndpoint(endpoint));
    // A node the pool reaches already under another address (a name given, an address learnt) is not added.
    if (known.has(m.id) || members.filter((x) => x.discovered).length >= MAX_DISCOVERED) continue;
    const member = add(endpoint);
    if (member === undefined) continue;
    added.push(member.endpoint);
    reach(member);
  }
  const removed: string[] = [];
  for (const member of [...members]) {
    if (!member.discovered || live.has(member.endpoint) || member.healthy || member.pending > 0) continue;
    members.splice(members.indexOf(member), 1);
    clearTimeout(member.retryTimer);
    member.client.destroy();
    removed.push(member.endpoint);
  }
  return { added, removed };
}
