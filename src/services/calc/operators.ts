/**
 * The binary operators. Each one checks its domain, charges the meter with an estimate taken from the
 * operands, runs decimal.js, then turns Infinity/NaN/lost digits into CALC_* errors.
 */
import { expScale, type Meter, modCost } from './cost.js';
import {
  type CalcContext,
  type Decimal,
  finite,
  log10Abs,
  MAX_EXPONENT,
  overflowError,
  underflowError,
} from './decimal.js';
import { calcError, domainError } from './fail.js';
import { show } from './format.js';
import { remembered } from './memo.js';

export function add(ctx: CalcContext, meter: Meter, a: Decimal, b: Decimal, column: number): Decimal {
  meter.charge(ctx.cost.add, column, 'the addition');
  const r = finite(a.plus(b), column);
  // A zero sum of non-opposite operands is a difference that fell below the smallest exponent.
  if (r.isZero() && !a.eq(b.neg())) underflowError(column);
  return r;
}

export function subtract(ctx: CalcContext, meter: Meter, a: Decimal, b: Decimal, column: number): Decimal {
  meter.charge(ctx.cost.add, column, 'the subtraction');
  const r = finite(a.minus(b), column);
  if (r.isZero() && !a.eq(b)) underflowError(column);
  return r;
}

export function multiply(ctx: CalcContext, meter: Meter, a: Decimal, b: Decimal, column: number): Decimal {
  meter.charge(ctx.cost.mul, column, 'the multiplication');
  const r = finite(a.times(b), column);
  if (r.isZero() && !a.isZero() && !b.isZero()) underflowError(column);
  return r;
}

export function divide(ctx: CalcContext, meter: Meter, a: Decimal, b: Decimal, column: number): Decimal {
  if (b.isZero()) throw calcError('CALC_DIVISION_BY_ZERO', 'division by zero', column);
  meter.charge(ctx.cost.div, column, 'the division');
  const r = finite(a.div(b), column);
  if (r.isZero() && !a.isZero()) underflowError(column);
  return r;
}

/** Truncated remainder (sign of the dividend), exact: the result never has more digits than the operands. */
export function modulo(ctx: CalcContext, meter: Meter, a: Decimal, b: Decimal, column: number): Decimal {
  if (b.isZero()) throw calcError('CALC_DIVISION_BY_ZERO', 'modulo by zero', column);
  if (a.isZero()) return a;
  meter.charge(modCost(ctx.cost, a.e - b.e, b.d.length), column, 'the modulo');
  return finite(a.mod(b), column);
}

const LOG10_LN10 = Math.log10(Math.LN10);
/** log10 of the largest |y·log10 x| that can still be in range, with slack for the float estimate. */
const MAX_LOG_MAGNITUDE = Math.log10(MAX_EXPONENT + 2) + 0.01;

export function power(ctx: CalcContext, meter: Meter, a: Decimal, b: Decimal, column: number): Decimal {
  if (b.isZero()) return ctx.one; // x^0 = 1, 0^0 included, as in most languages
  if (a.isZero()) {
    if (b.isNeg()) throw domainError(column, `0 cannot be raised to a negative power (0^${show(b)})`);
    return ctx.zero;
  }
  const integer = b.isInteger();
  if (a.isNeg() && !integer) {
    throw domainError(
      column,
      `a negative number cannot be raised to a non-integer power ((${show(a)})^${show(b)}); the result is not real`,
    );
  }
  // log10|log10 |a^b||: decide overflow before decimal.js spends time on it, and size exp's argument.
  const abs = a.abs();
  let logLog: number;
  let negativeLog: boolean;
  if (a.e === 0 || a.e === -1) {
    const t = abs.minus(ctx.one);
    if (t.isZero()) {
      meter.charge(ctx.cost.add, column, 'the power');
      return a.isNeg() && isOdd(b) ? a : ctx.one;
    }
    const la = log10Abs(abs);
    // Near 1, log10|a| ≈ (|a|-1)/ln 10 without the cancellation of the float logarithm.
    negativeLog = t.isNeg();
    logLog = t.e < -2 ? log10Abs(t) - LOG10_LN10 : Math.log10(Math.abs(la));
  } else {
    negativeLog = a.e < 0;
    logLog = Math.log10(Math.abs(log10Abs(abs)));
  }
  const resultLogLog = logLog + log10Abs(b);
  if (resultLogLog > MAX_LOG_MAGNITUDE) {
    // |a^b| is 10^(±huge): positive exponent overflows, negative underflows.
    if (negativeLog === b.isNeg()) overflowError(column);
    underflowError(column);
  }
  let cost: number;
  if (b.eq(ctx.half)) {
    cost = ctx.cost.sqrt;
  } else {
    const k = Math.abs(b.toNumber());
    cost =
      integer && k <= Number.MAX_SAFE_INTEGER
        ? 2 * (Math.floor(Math.log2(k)) + 1) * ctx.cost.powStep + (b.isNeg() ? ctx.cost.div : 0)
        : ctx.cost.powFrac * expScale(resultLogLog + LOG10_LN10);
  }
  return remembered(ctx, meter, `${a}^${b}`, cost, column, 'the power', () => {
    // decimal.js's x^0.5 goes through ln and exp; sqrt is ten times cheaper and as exact.
    const r = finite(b.eq(ctx.half) ? abs.sqrt() : a.pow(b), column);
    if (r.isZero()) underflowError(column);
    return r;
  });
}

/** Parity of an integer without dividing it: one with trailing zeros beyond its digits is even. */
function isOdd(b: Decimal): boolean {
  if (b.sd() < b.e + 1) return false;
  // At most `precision` digits and below toExpPos, so toString() is plain digits.
  const s = b.toString();
  return (s.charCodeAt(s.length - 1) & 1) === 1;
}
