import { NexoError } from '../../errors.js';

export interface CalcLimits {
  /** Significant decimal digits of every result and intermediate (default 64). */
  precision: number;
  /** Max expression length in UTF-16 code units (default 65536). */
  maxLength: number;
  /** Max nesting depth: parentheses, unary operators, function calls, right-assoc ^ chains (default 256). */
  maxDepth: number;
  /** Max AST nodes (default 10000). */
  maxNodes: number;
}

export const DEFAULT_CALC_LIMITS: CalcLimits = Object.freeze({
  precision: 64,
  maxLength: 65536,
  maxDepth: 256,
  maxNodes: 10000,
});

/** decimal.js carries 1025 digits of pi and ln(10); beyond ~1000 digits no transcendental function works. */
export const MAX_PRECISION = 1000;
/** The parser recurses about five frames per level; this keeps it far from the stack limit of a worker. */
export const MAX_DEPTH = 1000;

/** Why `limits` cannot be used, or undefined when they are valid. */
export function limitsProblem(limits: CalcLimits): string | undefined {
  const { precision, maxLength, maxDepth, maxNodes } = limits;
  if (!Number.isInteger(precision) || precision < 1 || precision > MAX_PRECISION) {
    return `precision must be an integer from 1 to ${MAX_PRECISION} (got ${precision})`;
  }
  if (!Number.isInteger(maxLength) || maxLength < 1)
    return `maxLength must be a positive integer (got ${maxLength})`;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH) {
    return `maxDepth must be an integer from 1 to ${MAX_DEPTH} (got ${maxDepth})`;
  }
  if (!Number.isInteger(maxNodes) || maxNodes < 1)
    return `maxNodes must be a positive integer (got ${maxNodes})`;
  return undefined;
}

/**
 * Throws when `limits` are unusable. Servers should call it once at startup; `calculate` checks too, and
 * reports bad limits as CALC_TOO_COMPLEX because it may only throw CALC_* errors.
 */
export function checkCalcLimits(limits: CalcLimits): void {
  const problem = limitsProblem(limits);
  if (problem !== undefined) throw new NexoError('CALC_TOO_COMPLEX', `invalid calc limits: ${problem}`);
}
