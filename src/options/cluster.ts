import { type Static, Type } from '@sinclair/typebox';
import { redactUrl } from '../util/redact-url.js';
import { CORE_DEFAULTS } from './core.js';
import { HostName, Port } from './values.js';

/** Where shared state lives (embedded, or PostgreSQL and NATS), the cluster's name, and how peers and HAProxy reach this node. */

export const ClusterSchema = Type.Object({
  storage: Type.Optional(Type.Union([Type.Literal('embedded'), Type.Literal('postgres')])),
  postgres: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  nats: Type.Optional(
    Type.Union([
      Type.String({ minLength: 1, maxLength: 4096 }),
      Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: 32 }),
    ]),
  ),
  cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  advertise: Type.Optional(HostName),
  agent: Type.Optional(
    Type.Object(
      {
        enabled: Type.Optional(Type.Boolean()),
        host: Type.Optional(HostName),
        port: Type.Optional(Port),
      },
      { additionalProperties: false },
    ),
  ),
});

export type StorageMode = 'embedded' | 'postgres';

export interface ClusterOptions {
  /**
   * Where services keep shared state: `embedded` (SQLite and files in dataDir, one node) or `postgres`
   * (PostgreSQL for records, NATS JetStream for the bus and shared contents; several nodes).
   */
  storage: StorageMode;
  /** PostgreSQL connection URL; required when storage is `postgres`. */
  postgres: string | undefined;
  /** NATS server URLs (a cluster's seeds); required when storage is `postgres`. */
  nats: string[];
  /** Prefix of this cluster's NATS subjects, streams and buckets, so clusters can share one NATS. */
  cluster: string;
  /**
   * The address other hosts reach this node at, as the cluster membership announces it. Default: `host`
   * unless that is a wildcard (0.0.0.0, ::), else the machine's first non-loopback IPv4 address.
   */
  advertise: string | undefined;
  /**
   * HAProxy's agent-check (docs/configuration.md): a TCP port answering each connection with one line, the
   * weight this node's load deserves (`up ready 75%`) or `drain` while it drains. On by default in cluster mode
   * (storage postgres), off in embedded mode unless a port is given.
   */
  agent: { enabled: boolean; host: string; port: number };
}

export const DEFAULT_AGENT_PORT = 5555;

export const CLUSTER_DEFAULTS = { storage: 'embedded' as StorageMode, cluster: 'nexo' } as const;

/** `host` is the node's own (the agent-check listens there unless told otherwise). */
export function resolveCluster(o: Static<typeof ClusterSchema>, host: string | undefined): ClusterOptions {
  return {
    storage: o.storage ?? CLUSTER_DEFAULTS.storage,
    postgres: o.postgres,
    nats: (typeof o.nats === 'string' ? o.nats.split(',') : (o.nats ?? []))
      .map((u) => u.trim())
      .filter((u) => u !== ''),
    cluster: o.cluster ?? CLUSTER_DEFAULTS.cluster,
    advertise: o.advertise,
    agent: {
      enabled: o.agent?.enabled ?? (o.agent?.port !== undefined || o.storage === 'postgres'),
      host: o.agent?.host ?? host ?? CORE_DEFAULTS.host,
      port: o.agent?.port ?? DEFAULT_AGENT_PORT,
    },
  };
}

/** A listener the agent-check port may not share. */
interface Listener {
  enabled: boolean;
  port: number;
}

/** The agent-check port and the advertised address. */
export function clusterProblems(
  o: ClusterOptions & { host: string; port: number; http: Listener; tls: Listener },
): string[] {
  const problems: string[] = [];
  const a = o.agent;
  if (a.enabled && a.port !== 0) {
    const clash = [
      ['port', o.port],
      ['http.port', o.http.enabled ? o.http.port : 0],
      ['tls.port', o.tls.enabled ? o.tls.port : 0],
    ].find(([, p]) => p === a.port);
    if (clash !== undefined && (a.host === o.host || a.host === '0.0.0.0' || o.host === '0.0.0.0')) {
      problems.push(
        `agent.port: ${a.port} is also ${clash[0]}; HAProxy's agent-check needs a port of its own (--agent-port, default ${DEFAULT_AGENT_PORT})`,
      );
    }
  }
  if (
    o.advertise !== undefined &&
    !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*|[0-9A-Fa-f:.]+)$/.test(o.advertise)
  ) {
    problems.push(
      `advertise: expected a host name or IP address other hosts reach this node at, without a port (got ${JSON.stringify(o.advertise.slice(0, 60))})`,
    );
  }
  if (o.advertise === '0.0.0.0' || o.advertise === '::') {
    problems.push("advertise: a wildcard address cannot be reached; give this host's own address");
  }
  return problems;
}

/** The shared-engine settings: both URLs in postgres mode, none in embedded mode, each well formed. */
export function engineProblems(o: ClusterOptions): string[] {
  const problems: string[] = [];
  if (o.postgres !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(o.postgres)) {
    problems.push(
      `postgres: expected a URL such as postgres://user@127.0.0.1:5432/nexo (got ${JSON.stringify(redactUrl(o.postgres).slice(0, 80))})`,
    );
  }
  for (const url of o.nats) {
    if (!/^((nats|tls|ws|wss):\/\/)?[^\s/,]+(:\d{1,5})?$/.test(url)) {
      problems.push(
        `nats: expected server URLs such as nats://127.0.0.1:4222, comma-separated (got ${JSON.stringify(redactUrl(url).slice(0, 80))})`,
      );
    }
  }
  // The cluster name is a NATS subject token and part of stream and bucket names, which allow only these.
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(o.cluster)) {
    problems.push(
      `cluster: expected 1 to 32 letters, digits, '-' or '_' (it prefixes NATS subjects and buckets; got ${JSON.stringify(o.cluster.slice(0, 40))})`,
    );
  }
  if (o.storage === 'postgres') {
    if (o.postgres === undefined) {
      problems.push(
        'postgres: storage is postgres but no PostgreSQL URL is set (--postgres URL or NEXO_POSTGRES)',
      );
    }
    if (o.nats.length === 0) {
      problems.push(
        'nats: storage is postgres but no NATS server is set (--nats URL[,URL] or NEXO_NATS); the nodes of a cluster talk through it',
      );
    }
  } else {
    if (o.postgres !== undefined) {
      problems.push('postgres: a PostgreSQL URL is set but storage is embedded; add --storage postgres');
    }
    if (o.nats.length > 0) {
      problems.push('nats: NATS servers are set but storage is embedded; add --storage postgres');
    }
  }
  return problems;
}
