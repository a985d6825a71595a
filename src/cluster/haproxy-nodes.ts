import type { HaproxyNode } from './haproxy-config.js';
import { serverName } from './haproxy-config.js';
import type { Member } from './member.js';

/**
 * `--node host:port:httpport[:agentport]` (IPv6 hosts in brackets), named node1, node2... in order. Throws a
 * TypeError naming the bad one.
 */
export function parseNodeSpecs(specs: readonly string[]): HaproxyNode[] {
  return specs.map((spec, i) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5}):(\d{1,5})(?::(\d{1,5}))?$/.exec(
      spec,
    );
    const ports = m === null ? [] : [m[2], m[3], m[4]].filter((p) => p !== undefined).map(Number);
    if (m === null || ports.some((p) => p < 1 || p > 65535)) {
      throw new TypeError(
        `--node: expected host:port:httpport[:agentport], e.g. 10.0.1.11:5000:8080 (got ${JSON.stringify(spec.slice(0, 80))})`,
      );
    }
    const host = m[1]!.replace(/^\[|\]$/g, '');
    return {
      name: `node${i + 1}`,
      host,
      tcp: ports[0]!,
      http: ports[1]!,
      ...(ports[2] === undefined ? {} : { agent: ports[2] }),
    };
  });
}

/**
 * The members HAProxy can balance over: those with an HTTP port (its health checks ask /readyz). The others
 * are returned apart, so the caller can say why they are left out.
 */
export function nodesFromMembers(members: readonly Member[]): { nodes: HaproxyNode[]; skipped: string[] } {
  const nodes: HaproxyNode[] = [];
  const skipped: string[] = [];
  for (const m of members) {
    if (m.ports.http === undefined) {
      skipped.push(m.id);
      continue;
    }
    nodes.push({
      name: serverName(m.id),
      host: m.host,
      tcp: m.ports.tcp,
      http: m.ports.http,
      ...(m.ports.tls === undefined ? {} : { tls: m.ports.tls }),
      ...(m.ports.agent === undefined ? {} : { agent: m.ports.agent }),
    });
  }
  return { nodes, skipped };
}
