import type { Setting } from './setting.js';

/** Shared storage (PostgreSQL, NATS), the cluster's name, and how peers and HAProxy reach this node. */
export const CLUSTER_SETTINGS: readonly Setting[] = [
  {
    path: 'storage',
    flag: '--storage <mode>',
    env: 'NEXO_STORAGE',
    help: 'embedded (SQLite and files in --data-dir, one node) or postgres (shared: needs --postgres and --nats)',
    kind: 'string',
  },
  {
    path: 'postgres',
    flag: '--postgres <url>',
    env: 'NEXO_POSTGRES',
    help: 'PostgreSQL URL for --storage postgres, e.g. postgres://nexo@127.0.0.1:5432/nexo',
    kind: 'string',
  },
  {
    path: 'nats',
    flag: '--nats <urls>',
    env: 'NEXO_NATS',
    help: 'NATS server URLs for --storage postgres, comma-separated, e.g. nats://127.0.0.1:4222',
    kind: 'string',
  },
  {
    path: 'cluster',
    flag: '--cluster <name>',
    env: 'NEXO_CLUSTER',
    help: "cluster name, prefix of its NATS subjects and buckets (default 'nexo')",
    kind: 'string',
  },
  {
    path: 'advertise',
    flag: '--advertise <host>',
    env: 'NEXO_ADVERTISE',
    help: "address other hosts reach this node at, as the cluster membership shows it (default: --host, or this host's first IPv4)",
    kind: 'string',
  },
  {
    path: 'agent.port',
    flag: '--agent-port <port>',
    env: 'NEXO_AGENT_PORT',
    help: "HAProxy agent-check port: answers 'up N%' from the load, 'drain' while draining (default 5555 with --storage postgres; 0 = any free port)",
    kind: 'int',
  },
  {
    path: 'agent.enabled',
    flag: '--no-agent',
    env: 'NEXO_AGENT',
    help: 'do not answer HAProxy agent-checks',
    kind: 'bool',
  },
];
