import os from 'node:os';
import { type Static, Type } from '@sinclair/typebox';

/** The node process itself: worker threads for calculations, and logging. */

export const WorkersSchema = Type.Object(
  {
    threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    maxMemoryMb: Type.Optional(Type.Integer({ minimum: 16, maximum: 16384 })),
  },
  { additionalProperties: false },
);

export const LogSchema = Type.Object(
  {
    level: Type.Optional(
      Type.Union(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l))),
    ),
    pretty: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface WorkersOptions {
  threads: number;
  maxMemoryMb: number;
}

export interface LogOptions {
  level: LogLevel;
  pretty: boolean;
}

export const LOG_DEFAULTS = { level: 'info' as LogLevel } as const;

export function resolveWorkers(o: Static<typeof WorkersSchema> | undefined): WorkersOptions {
  return {
    threads: o?.threads ?? Math.max(1, os.availableParallelism() - 1),
    maxMemoryMb: o?.maxMemoryMb ?? 128,
  };
}

export function resolveLog(o: Static<typeof LogSchema> | undefined): LogOptions {
  return { level: (o?.level as LogLevel | undefined) ?? LOG_DEFAULTS.level, pretty: o?.pretty ?? false };
}
