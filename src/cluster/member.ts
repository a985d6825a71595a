import type { Load } from './load.js';

/** Where a node is in its life, as the membership shows it. */
export type MemberState = 'starting' | 'ready' | 'draining';

/**
 * One node's entry in the cluster's membership bucket (`<cluster>_members`, NATS KV): what a balancer or an
 * operator needs to reach it and judge it. Written as JSON by the node itself, every `MEMBERSHIP.intervalMs`.
 */
export interface Member {
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
 * Timing of the membership. A node writes its entry every `intervalMs`; the bucket keeps an entry `ttlMs`
 * (the stream's max age), and readers also ignore entries older than that, so a node that dies without a
 * word disappears at most intervalMs + ttlMs (3 s) after its last write.
 */
export const MEMBERSHIP = { intervalMs: 500, ttlMs: 2500 } as const;

/** The bucket of a cluster's membership. */
export function membersBucket(cluster: string): string {
  return `${cluster}_members`;
}

/** Node ids may hold ':' (host:port), which NATS KV keys may not; '=' is in no node id. */
export function memberKey(id: string): string {
  return id.replaceAll(':', '=');
}

const STATES = new Set<string>(['starting', 'ready', 'draining']);
const port = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536;
const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max;

/** A member entry read from the bucket, or undefined when it is not one (anything may write to NATS). */
export function parseMember(bytes: Uint8Array): Member | undefined {
  if (bytes.length > 4096) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const m = v as Record<string, unknown>;
  const ports = m.ports as Record<string, unknown> | undefined;
  const load = m.load as Record<string, unknown> | undefined;
  if (
    !str(m.id, 64) ||
    !str(m.cluster, 32) ||
    !str(m.version, 64) ||
    !str(m.host, 255) ||
    typeof m.state !== 'string' ||
    !STATES.has(m.state) ||
    ![m.pid, m.startedAt, m.uptimeS, m.updatedAt].every(num) ||
    ports === null ||
    typeof ports !== 'object' ||
    !port(ports.tcp) ||
    !['tls', 'http', 'udp', 'agent'].every((k) => ports[k] === undefined || port(ports[k])) ||
    load === null ||
    typeof load !== 'object' ||
    ![load.connections, load.requestsPerSec, load.eventLoopDelayMs].every(num)
  ) {
    return undefined;
  }
  return v as Member;
}
