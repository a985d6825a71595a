/**
 * Builders for the CALC_* errors, so every message reads `<what> at column <n>: <detail>` and every
 * positioned error carries `{ column }` in its details.
 */
import { type ErrorCode, NexoError } from '../../errors.js';

export type CalcErrorCode = Extract<ErrorCode, `CALC_${string}`>;

export function calcError(
  code: CalcErrorCode,
  what: string,
  column: number,
  detail?: string,
  details?: Record<string, unknown>,
): NexoError {
  const message =
    detail === undefined ? `${what} at column ${column}` : `${what} at column ${column}: ${detail}`;
  return new NexoError(code, message, { column, ...details });
}

export function syntaxError(column: number, detail: string, details?: Record<string, unknown>): NexoError {
  return calcError('CALC_SYNTAX', 'syntax error', column, detail, details);
}

export function domainError(column: number, detail: string): NexoError {
  return calcError('CALC_DOMAIN', 'domain error', column, detail);
}

/** Quotes a user-supplied name for a message, cutting it so a 60 KB identifier cannot flood the reply. */
export function quoteName(name: string): string {
  return name.length > 32 ? `'${name.slice(0, 32)}…'` : `'${name}'`;
}
