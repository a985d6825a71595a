import path from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Port } from './values.js';

/** Who may connect: anonymous access and configured tokens; the TLS listener and its certificates. */

export const AuthSchema = Type.Object(
  {
    anonymous: Type.Optional(Type.Boolean()),
    tokens: Type.Optional(
      Type.Record(
        Type.String({ minLength: 8, maxLength: 4096 }),
        Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' }),
      ),
    ),
  },
  { additionalProperties: false },
);

export const TlsSchema = Type.Object(
  {
    port: Type.Optional(Port),
    cert: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    ca: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    clientAuth: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('optional'), Type.Literal('require')]),
    ),
    https: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export interface AuthOptions {
  anonymous: boolean;
  tokens: Record<string, string>;
}

export interface TlsOptions {
  enabled: boolean;
  port: number;
  cert: string | undefined;
  key: string | undefined;
  ca: string | undefined;
  clientAuth: 'none' | 'optional' | 'require';
  /** The HTTP gateway serves HTTPS (and WSS) with the same certificate. */
  https: boolean;
}

export const DEFAULT_TLS_PORT = 5443;

export function resolveAuth(o: Static<typeof AuthSchema> | undefined): AuthOptions {
  return { anonymous: o?.anonymous ?? true, tokens: { ...(o?.tokens ?? {}) } };
}

export function resolveTls(o: Static<typeof TlsSchema> | undefined): TlsOptions {
  return {
    enabled: o?.cert !== undefined || o?.key !== undefined,
    port: o?.port ?? DEFAULT_TLS_PORT,
    cert: o?.cert === undefined ? undefined : path.resolve(o.cert),
    key: o?.key === undefined ? undefined : path.resolve(o.key),
    ca: o?.ca === undefined ? undefined : path.resolve(o.ca),
    clientAuth: o?.clientAuth ?? 'none',
    https: o?.https ?? true,
  };
}

/** A certificate needs its key and a CA its certificate; the TLS port is its own. */
export function tlsProblems(t: TlsOptions, port: number, http: { enabled: boolean; port: number }): string[] {
  const problems: string[] = [];
  if (t.enabled && (t.cert === undefined || t.key === undefined)) {
    problems.push('tls: a certificate needs its key: give both tls.cert and tls.key (--tls-cert, --tls-key)');
  }
  if (!t.enabled && (t.ca !== undefined || t.clientAuth !== 'none')) {
    problems.push('tls: tls.ca and tls.clientAuth need a server certificate (--tls-cert, --tls-key)');
  }
  if (t.clientAuth !== 'none' && t.ca === undefined) {
    problems.push(
      `tls.clientAuth: '${t.clientAuth}' checks client certificates against a CA: give tls.ca (--tls-ca)`,
    );
  }
  if (t.enabled && t.port !== 0) {
    if (t.port === port) problems.push(`tls.port: ${t.port} is also the nexo TCP port`);
    if (http.enabled && t.port === http.port) problems.push(`tls.port: ${t.port} is also the HTTP port`);
  }
  return problems;
}

export function authProblems(a: AuthOptions): string[] {
  return !a.anonymous && Object.keys(a.tokens).length === 0
    ? ['auth: anonymous access is off but no tokens are configured, so nobody could connect']
    : [];
}
