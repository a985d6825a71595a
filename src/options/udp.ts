import { type Static, Type } from '@sinclair/typebox';
import { parseDuration, parseSize } from '../util/units.js';
import type { UnitReader } from './problems.js';
import { Duration, Port, Size } from './values.js';

export const UdpSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    port: Type.Optional(Port),
    maxPending: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    unverifiedBudget: Type.Optional(Size),
    maxSessions: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    handshakeTimeout: Type.Optional(Duration),
    idleTimeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

/** nexo over UDP (protocol §13): text datagrams and secure sensor sessions, on the same port number. */
export interface UdpOptions {
  enabled: boolean;
  /** Default: the TCP port (the one bound, when port is 0). */
  port: number | undefined;
  /** Datagrams being handled at once; more are dropped and counted (§13.1.5). */
  maxPending: number;
  /** Bytes the node may send unverified addresses beyond what it received from them (§13.1.2). */
  unverifiedBudget: number;
  /** Secure sessions at once (§13.3.8); a handshake beyond it is refused. */
  maxSessions: number;
  /** A secure session must finish its handshake (WELCOME acknowledged) within this (§13.3.8). */
  handshakeTimeoutMs: number;
  /** A secure session that receives nothing this long is forgotten (§13.3.8). */
  idleTimeoutMs: number;
}

export const UDP_DEFAULTS = {
  enabled: true,
  maxPending: 1024,
  unverifiedBudget: '16KiB',
  maxSessions: 1000,
  handshakeTimeout: '10s',
  idleTimeout: '2m',
} as const;

export function resolveUdp(o: Static<typeof UdpSchema> | undefined, unit: UnitReader): UdpOptions {
  const d = UDP_DEFAULTS;
  return {
    enabled: o?.enabled ?? d.enabled,
    port: o?.port,
    maxPending: o?.maxPending ?? d.maxPending,
    unverifiedBudget: unit('udp.unverifiedBudget', parseSize, o?.unverifiedBudget ?? d.unverifiedBudget),
    maxSessions: o?.maxSessions ?? d.maxSessions,
    handshakeTimeoutMs: unit(
      'udp.handshakeTimeout',
      parseDuration,
      o?.handshakeTimeout ?? d.handshakeTimeout,
    ),
    idleTimeoutMs: unit('udp.idleTimeout', parseDuration, o?.idleTimeout ?? d.idleTimeout),
  };
}

export function udpProblems(u: UdpOptions): string[] {
  const problems: string[] = [];
  if (u.unverifiedBudget < 1200 || u.unverifiedBudget > 64 * 1024 * 1024) {
    problems.push(
      `udp.unverifiedBudget: must be between 1200 bytes and 64MiB (got ${u.unverifiedBudget} bytes)`,
    );
  }
  if (u.handshakeTimeoutMs < 100) problems.push('udp.handshakeTimeout: must be at least 100ms');
  if (u.idleTimeoutMs < 1000) problems.push('udp.idleTimeout: must be at least 1s');
  return problems;
}
