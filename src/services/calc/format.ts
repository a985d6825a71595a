import type { Decimal } from './decimal.js';
import { ROUND_DOWN } from './decimal.js';

/**
 * The result string: decimal.js already drops trailing zeros and prints -0 as 0; the clone's toExpPos
 * (the precision) and toExpNeg (-7) decide when exponent notation (1.5e+70, 1e-8) is used.
 */
export function formatResult(x: Decimal): string {
  return x.toString();
}

/** A value inside an error message: at most 15 significant digits, with … when cut. */
export function show(x: Decimal): string {
  if (!x.isFinite() || x.isZero() || x.sd() <= 15) return x.toString();
  return `${x.toSignificantDigits(15, ROUND_DOWN).toString()}…`;
}
