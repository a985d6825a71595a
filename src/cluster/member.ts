import { MEMBER_FORMAT, type Member } from '../wire/cluster.js';

export type { Member, MemberPorts, MemberState } from '../wire/cluster.js';

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

/**
 * A member entry read from the bucket, or undefined when it is not one (anything may write to NATS): §9.N.3
 * too large, not JSON, a field missing or out of range, another cluster's (when `cluster` is given), or a
 * `format` this nexo does not know.
 */
export function parseMember(bytes: Uint8Array, cluster?: string): Member | undefined {
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
    (m.format !== undefined && m.format !== MEMBER_FORMAT) ||
    (cluster !== undefined && m.cluster !== cluster) ||
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
