import {
  CLIENT_SUBNET,
  HAPROXY_IP,
  NODE_IPS,
  POSTGRES_IP,
  SENSOR_IPS,
  SERVER_SUBNET,
} from '../infra/network.js';
import { HTTP_PORT, NATS_CLIENT_PORT, POSTGRES_PORT, PROTOCOL_PORT } from '../infra/ports.js';
import { SENSORS } from '../infra/sensors.js';

/**
 * The AWS template's machines (infra/), as hosts of a rehearsal: the same roles, the same install.sh
 * variables and the same addresses with the VPC's `10.0.` swapped for `10.241.` (NAMES.md: the rehearsal's
 * range), so that nothing here can collide with a real network this machine is on.
 */
export interface RehearsalHost {
  /** Short name: the namespace is `nxr-<name>` (at most 15 characters in all). */
  readonly name: string;
  readonly ip: string;
  readonly subnet: 'server' | 'client';
  /** install.sh's variables for this machine, as infra/ passes them in its user data. */
  readonly vars: Record<string, string>;
}

/** The rehearsal's stand-in for the RDS instance's generated password. */
export const PG_PASSWORD = 'rehearsal';

export function rehearsalIp(templateIp: string): string {
  if (!templateIp.startsWith('10.0.')) throw new Error(`not a template address: ${templateIp}`);
  return `10.241.${templateIp.slice('10.0.'.length)}`;
}

export const SUBNETS = {
  server: rehearsalIp(SERVER_SUBNET),
  client: rehearsalIp(CLIENT_SUBNET),
} as const;

/** install.sh's default (20000) when the machine allows it, else what two descriptors per connection allow. */
export function haproxyMaxconn(nofile: number): number {
  return Math.min(20_000, Math.floor((nofile - 200) / 2));
}

/** `nofile`: the most open files a process may have here (HAProxy's maxconn is sized by it). */
export function topology(nofile = 1_048_576): RehearsalHost[] {
  const nodes = NODE_IPS.map(rehearsalIp);
  const pg = rehearsalIp(POSTGRES_IP);
  const haproxy = rehearsalIp(HAPROXY_IP);
  return [
    {
      name: 'pg',
      ip: pg,
      subnet: 'server',
      // infra/database.ts with --context rds=false: ROLE=postgres, the nodes' subnet allowed
      vars: { ROLE: 'postgres', PG_ALLOW: SUBNETS.server, PG_PASSWORD },
    },
    ...nodes.map((ip, i) => ({
      name: `node${i + 1}`,
      ip,
      subnet: 'server' as const,
      // infra/nodes.ts and natsVars(): NATS and nexo on each node instance
      vars: {
        ROLE: 'nats,node',
        NODE_ID: `node${i + 1}`,
        NATS_NAME: `node${i + 1}`,
        NODES: nodes.join(','),
        NATS_URLS: nodes.map((n) => `nats://${n}:${NATS_CLIENT_PORT}`).join(','),
        POSTGRES_URL: `postgres://nexo:${PG_PASSWORD}@${pg}:${POSTGRES_PORT}/nexo`,
      },
    })),
    {
      name: 'haproxy',
      ip: haproxy,
      subnet: 'server',
      // HAProxy wants two file descriptors per connection: its maxconn fits this machine's limit
      vars: { ROLE: 'haproxy', NODES: nodes.join(','), HAPROXY_MAXCONN: String(haproxyMaxconn(nofile)) },
    },
    ...SENSORS.map((s, i) => ({
      name: `sensor${i + 1}`,
      ip: rehearsalIp(SENSOR_IPS[i]!),
      subnet: 'client' as const,
      vars: {
        ROLE: 'sensor',
        SERVER: `${haproxy}:${PROTOCOL_PORT}`,
        SENSORS: `${s.id}:${s.metric}:${s.every}`,
      },
    })),
  ];
}

/** Where a person points a browser: the dashboard through HAProxy. */
export function dashboardUrl(): string {
  return `http://${rehearsalIp(HAPROXY_IP)}:${HTTP_PORT}/`;
}
