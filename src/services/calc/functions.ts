/** The built-in functions and constants: arity, domain, cost and evaluation. */
import { expScale, type Meter, trigScale } from './cost.js';
import {
  type CalcContext,
  CONSTANT_DIGITS,
  type Decimal,
  finite,
  MAX_EXPONENT,
  MIN_EXPONENT,
  overflowError,
  ROUND_HALF_UP,
  underflowError,
} from './decimal.js';
import { calcError, domainError } from './fail.js';
import { show } from './format.js';
import { remembered } from './memo.js';

export interface FunctionSpec {
  readonly name: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** How to call it, for arity messages and docs. */
  readonly usage: string;
  /** Checks the domain, charges the meter, computes. `args.length` is within the arity. */
  readonly apply: (ctx: CalcContext, meter: Meter, args: readonly Decimal[], column: number) => Decimal;
}

/** sin/cos/tan need |x| below this power of ten: reducing modulo pi needs as many digits of pi. */
export const TRIG_MAX_EXPONENT = 500;
/** round(x, digits) accepts |digits| up to the exponent bound; beyond it nothing could change. */
export const ROUND_MAX_DIGITS = MAX_EXPONENT;

const arg = (args: readonly Decimal[], i: number): Decimal => args[i] as Decimal;

const positive = (name: string, x: Decimal, column: number): void => {
  if (x.isNeg() || x.isZero()) {
    throw domainError(column, `${name} is undefined for zero and negative numbers (got ${show(x)})`);
  }
};

function unary(name: string, apply: (ctx: CalcContext, meter: Meter, x: Decimal, column: number) => Decimal) {
  return {
    name,
    minArgs: 1,
    maxArgs: 1,
    usage: `${name}(x)`,
    apply: (ctx: CalcContext, meter: Meter, args: readonly Decimal[], column: number) =>
      apply(ctx, meter, arg(args, 0), column),
  } satisfies FunctionSpec;
}

function trig(name: 'sin' | 'cos' | 'tan'): FunctionSpec {
  return unary(name, (ctx, meter, x, column) => {
    if (x.isZero()) return name === 'cos' ? ctx.one : x;
    if (x.e >= TRIG_MAX_EXPONENT) {
      throw domainError(column, `${name} needs |x| < 1e${TRIG_MAX_EXPONENT} (got ${show(x)})`);
    }
    // decimal.js works at precision + max(exponent, digits) + 7 and needs that much pi.
    const needed = (name === 'tan' ? ctx.guard.precision : ctx.precision) + Math.max(x.e, x.sd()) + 7;
    if (needed > CONSTANT_DIGITS) {
      throw calcError(
        'CALC_TOO_COMPLEX',
        'too costly to evaluate',
        column,
        `${name} of this argument needs ${needed} digits of pi at precision ${ctx.precision}, more than the ${CONSTANT_DIGITS} available`,
      );
    }
    const table = ctx.cost;
    // Mirrors decimal.js: no reduction below pi/2, and no argument splitting for fewer than 3 words.
    const short = x.d.length < 3 && x.abs().lte(ctx.halfPi);
    const cost = short
      ? name === 'tan'
        ? table.shortTan
        : table.shortTrig
      : (name === 'tan' ? table.tan : table.trig) * trigScale(ctx.precision, x.e, x.sd());
    return remembered(ctx, meter, `${name}(${x})`, cost, column, name, () =>
      name === 'sin' ? x.sin() : name === 'cos' ? x.cos() : tangent(ctx, x, column),
    );
  });
}

/**
 * decimal.js computes tan as sin/sqrt(1 - sin²), which cancels catastrophically near the poles
 * (tan(pi/2) came out as 7.07e36 instead of ~1.6e64). sin/cos with guard digits keeps every digit:
 * both keep their relative accuracy however close to zero they get.
 */
function tangent(ctx: CalcContext, x: Decimal, column: number): Decimal {
  const g = new ctx.guard(x);
  const cos = g.cos();
  if (cos.isZero()) throw domainError(column, `tan is undefined at odd multiples of pi/2 (got ${show(x)})`);
  return finite(new ctx.D(g.sin().div(cos)).toSignificantDigits(ctx.precision), column);
}

/** Half away from zero, the rounding people expect from a calculator's round (2.5 → 3, -2.5 → -3). */
function roundTo(ctx: CalcContext, x: Decimal, digits: number, column: number): Decimal {
  if (x.isZero()) return ctx.zero;
  const keep = x.e + 1 + digits; // significant digits left after rounding
  if (keep >= ctx.precision) return x;
  if (keep > 0) return finite(x.toSignificantDigits(keep, ROUND_HALF_UP), column);
  if (keep < 0 || x.abs().lt(new ctx.D(`5e${x.e}`))) return ctx.zero;
  // |x| is at least half of the unit 10^-digits: it rounds to one unit.
  return finite(new ctx.D(`${x.isNeg() ? '-' : ''}1e${-digits}`), column);
}

const LN10 = Math.LN10;

const list: FunctionSpec[] = [
  unary('sqrt', (ctx, meter, x, column) => {
    if (x.isNeg() && !x.isZero()) {
      throw domainError(column, `sqrt is undefined for negative numbers (got ${show(x)})`);
    }
    return remembered(ctx, meter, `sqrt(${x})`, ctx.cost.sqrt, column, 'sqrt', () => x.sqrt());
  }),
  unary('abs', (ctx, meter, x, column) => {
    meter.charge(ctx.cost.add, column, 'abs');
    return x.abs();
  }),
  unary('floor', (ctx, meter, x, column) => {
    meter.charge(ctx.cost.add, column, 'floor');
    return x.floor();
  }),
  unary('ceil', (ctx, meter, x, column) => {
    meter.charge(ctx.cost.add, column, 'ceil');
    return x.ceil();
  }),
  {
    name: 'round',
    minArgs: 1,
    maxArgs: 2,
    usage: 'round(x) or round(x, digits)',
    apply(ctx, meter, args, column) {
      meter.charge(ctx.cost.add, column, 'round');
      if (args.length === 1) return roundTo(ctx, arg(args, 0), 0, column);
      const digits = arg(args, 1);
      if (!digits.isInteger() || digits.abs().gt(ROUND_MAX_DIGITS)) {
        throw domainError(
          column,
          `round digits must be an integer from -${ROUND_MAX_DIGITS} to ${ROUND_MAX_DIGITS} (got ${show(digits)})`,
        );
      }
      return roundTo(ctx, arg(args, 0), digits.toNumber(), column);
    },
  },
  ...(['min', 'max'] as const).map(
    (name): FunctionSpec => ({
      name,
      minArgs: 1,
      maxArgs: Number.POSITIVE_INFINITY,
      usage: `${name}(a, b, ...)`,
      apply(ctx, meter, args, column) {
        meter.charge(ctx.cost.add * args.length, column, name);
        let best = arg(args, 0);
        for (let i = 1; i < args.length; i++) {
          const x = arg(args, i);
          if (name === 'min' ? x.lt(best) : x.gt(best)) best = x;
        }
        return best;
      },
    }),
  ),
  trig('sin'),
  trig('cos'),
  trig('tan'),
  {
    name: 'log',
    minArgs: 1,
    maxArgs: 2,
    usage: 'log(x) (base 10) or log(x, base)',
    apply(ctx, meter, args, column) {
      const x = arg(args, 0);
      positive('log', x, column);
      if (args.length === 1) {
        return remembered(ctx, meter, `log(${x})`, ctx.cost.log10, column, 'log', () =>
          finite(x.log(), column),
        );
      }
      const base = arg(args, 1);
      if (base.isNeg() || base.isZero() || base.eq(ctx.one)) {
        throw domainError(column, `the base of log must be positive and not 1 (got ${show(base)})`);
      }
      return remembered(ctx, meter, `log(${x},${base})`, ctx.cost.logBase, column, 'log', () =>
        finite(x.log(base), column),
      );
    },
  },
  unary('ln', (ctx, meter, x, column) => {
    positive('ln', x, column);
    return remembered(ctx, meter, `ln(${x})`, ctx.cost.ln, column, 'ln', () => finite(x.ln(), column));
  }),
  unary('exp', (ctx, meter, x, column) => {
    // e^x leaves the exponent bounds past |x| ≈ 2.3e6; decide before decimal.js squares its way there.
    const n = x.e >= 7 ? x.s * Number.POSITIVE_INFINITY : x.toNumber();
    if (n > (MAX_EXPONENT + 1) * LN10) overflowError(column);
    if (n < (MIN_EXPONENT - 1) * LN10) underflowError(column);
    return remembered(ctx, meter, `exp(${x})`, ctx.cost.exp * expScale(x.e), column, 'exp', () => {
      const r = finite(x.exp(), column);
      if (r.isZero()) underflowError(column);
      return r;
    });
  }),
];

export const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map(list.map((f) => [f.name, f]));

export const CONSTANTS: ReadonlyMap<string, (ctx: CalcContext) => Decimal> = new Map([
  ['pi', (ctx: CalcContext) => ctx.pi],
  ['e', (ctx: CalcContext) => ctx.e],
]);
