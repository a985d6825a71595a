/**
 * The cost model. Every decimal.js operation is charged an estimate in microseconds (calibrated on the
 * development machine, erring high) before it runs. Inline evaluation stops with NeedsWorker once the
 * expression's total passes INLINE_BUDGET_US; worker evaluation stops with CALC_TOO_COMPLEX once it passes
 * WORKER_BUDGET_US, well inside the ~1 s kill limit of the pool. A single operation estimated above the
 * worker budget fails at once in both modes, so hostile input never reaches the pool.
 *
 * Recalibrate with `npx tsx test/services/calc/calibrate.ts` after upgrading decimal.js.
 */
import { calcError } from './fail.js';

/** Thrown in 'inline' mode, before doing the work, when an operation is estimated too costly for the event loop. */
export class NeedsWorker extends Error {
  override readonly name = 'NeedsWorker';
}

export const INLINE_BUDGET_US = 1_000;
export const WORKER_BUDGET_US = 300_000;

/** Estimated microseconds per operation at one precision; see costTable. */
export interface CostTable {
  /** Per call: setting up, formatting the result. */
  readonly base: number;
  /** Per character of the expression: tokenizing and parsing a dense 1+1+... runs at ~0.07 µs a character. */
  readonly parsePerChar: number;
  /** Interpreting one instruction, on top of its arithmetic. */
  readonly node: number;
  /** Reading a literal or a variable's value, plus perChar for each of its characters. */
  readonly literal: number;
  readonly perChar: number;
  readonly add: number;
  readonly mul: number;
  readonly div: number;
  readonly sqrt: number;
  readonly ln: number;
  readonly log10: number;
  readonly logBase: number;
  /** exp of an argument below 10; larger ones scale with expScale. */
  readonly exp: number;
  /** sin or cos of a full-precision argument below 10^precision; larger ones scale with trigScale. */
  readonly trig: number;
  /** sin and cos at 10 guard digits, then a division (see functions.ts). */
  readonly tan: number;
  /**
   * sin or cos of an argument of at most 14 digits within ±pi/2 (sin(1)): decimal.js skips the argument
   * reduction and multiplies by a short number, an order of magnitude cheaper at high precision.
   */
  readonly shortTrig: number;
  readonly shortTan: number;
  /** x^y through exp(y·ln x); includes decimal.js's recomputation near rounding boundaries. */
  readonly powFrac: number;
  /** One squaring or multiplication of exponentiation by squaring (integer exponents). */
  readonly powStep: number;
}

/**
 * Fitted to decimal.js 10.6 timings (median of warm runs, worst of several arguments) at precisions
 * 16–1000, then raised to stay 1.3–3× above them. Series-based functions grow like precision^2.5 up to
 * ~500 digits (more terms, each on longer numbers) and like precision^2 beyond.
 */
export function costTable(precision: number): CostTable {
  const s = precision / 64;
  const series = (x: number) => x * x * Math.sqrt(Math.min(x, 8));
  const trig = (p: number) => 120 + 550 * series(p / 64);
  const shortTrig = (p: number) => 90 + 60 * (p / 64) ** 2;
  const div = 8 + 8 * s * s;
  return {
    base: 2 + precision / 50,
    parsePerChar: 0.08,
    node: 0.4,
    literal: 1,
    perChar: 0.03,
    add: 1 + precision / 250,
    mul: 2 + 2.5 * s * s,
    div,
    sqrt: 30 + 60 * s ** 1.5,
    ln: 100 + 400 * series(s),
    log10: 100 + 400 * series(s),
    logBase: 150 + 1300 * series(s),
    exp: 100 + 350 * series(s),
    trig: trig(precision),
    tan: 2 * trig(precision + 10) + div,
    shortTrig: shortTrig(precision),
    shortTan: 2 * shortTrig(precision + 10) + div,
    powFrac: 150 + 900 * series(s),
    powStep: 1 + 5 * ((precision + 28) / 92) ** 2,
  };
}

/** exp (and x^y) run a few squarings more per decimal digit of the argument's magnitude. */
export function expScale(magnitudeDigits: number): number {
  return magnitudeDigits > 0 ? 1 + magnitudeDigits / 8 : 1;
}

/**
 * sin/cos/tan work at precision + max(exponent, significant digits) + 7 digits: the table's figure is for a
 * full-precision argument below 10^precision. Short arguments (sin(1)) are cheaper, large ones far dearer.
 */
export function trigScale(precision: number, exponent: number, digits: number): number {
  const full = 2 * precision + 7;
  const working = precision + Math.max(exponent, digits) + 7;
  return working > full ? (working / full) ** 2.5 : (working / full) ** 2;
}

/**
 * a % b divides out an integer quotient of about `gap` = exponent(a) − exponent(b) digits, in time linear
 * in gap (growing with the words of b), plus a quadratic term that dominates past ~10^4 digits.
 */
export function modCost(table: CostTable, gap: number, divisorWords: number): number {
  const base = table.add + 0.5 * divisorWords;
  return gap > 0 ? base + gap * (0.05 + 0.007 * divisorWords) + 3e-6 * gap * gap : base;
}

export class Meter {
  private spent = 0;
  private readonly limit: number;

  constructor(readonly inline: boolean) {
    this.limit = inline ? INLINE_BUDGET_US : WORKER_BUDGET_US;
  }

  get total(): number {
    return this.spent;
  }

  /** Call before the work. `what` names it in the error, e.g. "the modulo". */
  charge(us: number, column: number, what: string): void {
    this.spent += us;
    if (this.spent > this.limit) this.exceeded(us, column, what);
  }

  private exceeded(us: number, column: number, what: string): never {
    if (us > WORKER_BUDGET_US) {
      throw calcError('CALC_TOO_COMPLEX', 'too costly to evaluate', column, `${what} would take too long`, {
        estimatedMs: Math.round(us / 1000),
      });
    }
    if (this.inline) throw new NeedsWorker(`${what} at column ${column} is too costly to evaluate inline`);
    throw calcError(
      'CALC_TOO_COMPLEX',
      'too costly to evaluate',
      column,
      'the expression as a whole would take too long',
      {
        estimatedMs: Math.round(this.spent / 1000),
      },
    );
  }
}
