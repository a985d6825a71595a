import { NexoError } from '../../../src/errors.js';
import {
  type Budget,
  type CalcLimits,
  type CalcResult,
  calculate,
  DEFAULT_CALC_LIMITS,
  NeedsWorker,
} from '../../../src/services/calc/engine.js';

export const VARS: ReadonlyMap<string, string> = new Map([
  ['x', '3'],
  ['y', '-2.5'],
  ['ans', '42'],
  ['big', '1.5e+70'],
  ['tiny', '1e-9'],
  ['third', '0.3333333333333333333333333333333333333333333333333333333333333333'],
]);

export function calc(
  expr: string,
  vars: ReadonlyMap<string, string> = VARS,
  limits: CalcLimits = DEFAULT_CALC_LIMITS,
  budget: Budget = 'worker',
): CalcResult {
  return calculate(expr, vars, limits, budget);
}

export const value = (expr: string, vars?: ReadonlyMap<string, string>): string => calc(expr, vars).value;

/** What calculate threw, as a NexoError (fails the test on success or on anything else). */
export function failure(
  expr: string,
  budget: Budget = 'worker',
  limits: CalcLimits = DEFAULT_CALC_LIMITS,
  vars: ReadonlyMap<string, string> = VARS,
): NexoError {
  try {
    const r = calculate(expr, vars, limits, budget);
    throw new Error(`expected ${JSON.stringify(expr)} to fail, got ${r.value}`);
  } catch (err) {
    if (err instanceof NexoError) return err;
    throw err;
  }
}

/** The outcome of a call, for properties: a value, a CALC_* code, 'NeedsWorker', or the foreign error. */
export function outcome(expr: string, budget: Budget, vars: ReadonlyMap<string, string> = VARS): string {
  try {
    return `= ${calculate(expr, vars, DEFAULT_CALC_LIMITS, budget).value}`;
  } catch (err) {
    if (err instanceof NeedsWorker) return 'NeedsWorker';
    if (err instanceof NexoError && String(err.code).startsWith('CALC_')) return String(err.code);
    throw err;
  }
}
