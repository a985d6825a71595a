import { type Static, Type } from '@sinclair/typebox';
import { parseDuration } from '../util/units.js';
import type { UnitReader } from './problems.js';
import { Duration } from './values.js';

export const CalcSchema = Type.Object(
  {
    precision: Type.Optional(Type.Integer({ minimum: 8, maximum: 1000 })),
    timeout: Type.Optional(Duration),
    maxLength: Type.Optional(Type.Integer({ minimum: 16, maximum: 1 << 20 })),
    maxVariables: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
    maxBatch: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

/** Settings of the calculator service (docs/calc.md). */
export interface CalcOptions {
  precision: number;
  timeoutMs: number;
  maxLength: number;
  maxVariables: number;
  maxBatch: number;
}

export const CALC_DEFAULTS = {
  precision: 64,
  timeout: '1s',
  maxLength: 65536,
  maxVariables: 100,
  maxBatch: 1000,
} as const;

export function resolveCalc(o: Static<typeof CalcSchema> | undefined, unit: UnitReader): CalcOptions {
  const d = CALC_DEFAULTS;
  return {
    precision: o?.precision ?? d.precision,
    timeoutMs: unit('calc.timeout', parseDuration, o?.timeout ?? d.timeout),
    maxLength: o?.maxLength ?? d.maxLength,
    maxVariables: o?.maxVariables ?? d.maxVariables,
    maxBatch: o?.maxBatch ?? d.maxBatch,
  };
}

export function calcProblems(c: CalcOptions): string[] {
  return c.timeoutMs === 0 ? ['calc.timeout: must be more than 0'] : [];
}
