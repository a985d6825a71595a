/**
 * The decimal.js configuration of the engine: one Decimal clone per precision, created once and cached,
 * so a call never pays for Decimal.clone and never touches the global Decimal.
 */
import type { Decimal } from 'decimal.js';
import decimalJs from 'decimal.js';
import { type CostTable, costTable } from './cost.js';
import { calcError } from './fail.js';
import { Memo } from './memo.js';

export type { Decimal };
export type DecimalCtor = typeof Decimal;

// decimal.js ships CommonJS-style typings, so under NodeNext TypeScript types the ESM default export as
// the module namespace; at run time it is the constructor.
const DecimalJs = decimalJs as unknown as DecimalCtor;

/** Largest decimal exponent: magnitudes stay below 1e1000001. decimal.js returns Infinity above it. */
export const MAX_EXPONENT = 1_000_000;
/** Smallest decimal exponent: nonzero magnitudes are at least 1e-1000000. decimal.js returns 0 below it. */
export const MIN_EXPONENT = -1_000_000;
/** Exponents of -7 and below (magnitudes under 1e-6) print in exponent notation, as JavaScript numbers do. */
export const TO_EXP_NEG = -7;
/** decimal.js carries this many digits of pi and ln(10); functions needing more throw. */
export const CONSTANT_DIGITS = 1025;

/** Function results remembered per precision (a few hundred KB at precision 64). */
const MEMO_ENTRIES = 2048;

/** Extra digits of the guard clone. */
export const GUARD_DIGITS = 10;

export const ROUND_HALF_EVEN = DecimalJs.ROUND_HALF_EVEN;
export const ROUND_HALF_UP = DecimalJs.ROUND_HALF_UP;
export const ROUND_DOWN = DecimalJs.ROUND_DOWN;

export interface CalcContext {
  readonly precision: number;
  readonly D: DecimalCtor;
  /** The same configuration with GUARD_DIGITS more precision, for results that cancel. */
  readonly guard: DecimalCtor;
  readonly zero: Decimal;
  readonly one: Decimal;
  readonly half: Decimal;
  readonly pi: Decimal;
  readonly halfPi: Decimal;
  readonly e: Decimal;
  readonly cost: CostTable;
  readonly memo: Memo;
  /** Parsed literals by their text: Decimals are immutable, and short literals repeat constantly. */
  readonly literals: Map<string, Decimal>;
}

function config(precision: number) {
  return {
    precision,
    rounding: ROUND_HALF_EVEN,
    // Truncated division, like JavaScript's %: the remainder takes the sign of the dividend.
    modulo: ROUND_DOWN,
    maxE: MAX_EXPONENT,
    minE: MIN_EXPONENT,
    toExpNeg: TO_EXP_NEG,
    // Integers of up to `precision` digits print in full; anything larger cannot be exact anyway.
    toExpPos: precision,
  } as const;
}

const contexts = new Map<number, CalcContext>();
let last: CalcContext | undefined;

export function contextFor(precision: number): CalcContext {
  if (last !== undefined && last.precision === precision) return last;
  let ctx = contexts.get(precision);
  if (ctx === undefined) {
    const D = DecimalJs.clone(config(precision));
    const pi = new D(-1).acos();
    ctx = {
      precision,
      D,
      guard: DecimalJs.clone({ ...config(precision), precision: precision + GUARD_DIGITS }),
      zero: new D(0),
      one: new D(1),
      half: new D('0.5'),
      // acos(-1) is decimal.js's stored pi, correctly rounded, without a series.
      pi,
      halfPi: pi.div(2),
      e: new D(eDigits()).toSignificantDigits(precision),
      cost: costTable(precision),
      memo: new Memo(MEMO_ENTRIES),
      literals: new Map(),
    };
    contexts.set(precision, ctx);
  }
  last = ctx;
  return ctx;
}

let eCache: string | undefined;

/** e to ~1045 digits from sum(1/k!) in BigInt fixed point: exact enough to round correctly at any precision. */
function eDigits(): string {
  if (eCache === undefined) {
    const scale = 10n ** BigInt(CONSTANT_DIGITS + 20);
    let sum = 0n;
    for (let term = scale, k = 1n; term > 0n; k++) {
      sum += term;
      term /= k;
    }
    const s = sum.toString();
    eCache = `${s[0]}.${s.slice(1)}`;
  }
  return eCache;
}

/**
 * decimal.js keeps a module-wide "external" flag and raises a clone's precision inside functions; an
 * exception thrown half way (e.g. "Precision limit exceeded") leaves both changed. Put them back.
 */
export function recover(ctx: CalcContext): void {
  ctx.D.set(config(ctx.precision));
  ctx.guard.set({ ...config(ctx.precision), precision: ctx.precision + GUARD_DIGITS });
  // sqrt clears and then sets the module-wide flag on its way out.
  new ctx.D(2).sqrt();
}

export function overflowError(column: number): never {
  throw calcError(
    'CALC_OVERFLOW',
    'overflow',
    column,
    `the result is too large (magnitudes must stay below 1e+${MAX_EXPONENT + 1})`,
  );
}

export function underflowError(column: number): never {
  throw calcError(
    'CALC_OVERFLOW',
    'underflow',
    column,
    `the result is too small (nonzero magnitudes must be at least 1e${MIN_EXPONENT})`,
  );
}

/** Returns `r` when finite; Infinity is an overflow, NaN a domain error. */
export function finite(r: Decimal, column: number): Decimal {
  if (r.isFinite()) return r;
  if (r.isNaN()) throw calcError('CALC_DOMAIN', 'domain error', column, 'the result is not a real number');
  return overflowError(column);
}

/** Reads a literal the lexer accepted; rounds it to the precision (decimal.js keeps every digit given). */
export function parseLiteral(ctx: CalcContext, text: string, column: number): Decimal {
  if (text.length <= LITERAL_CACHE_TEXT) {
    const cached = ctx.literals.get(text);
    if (cached !== undefined) return cached;
    const x = parseUncached(ctx, text, column);
    // Bounded: a client sending endless distinct literals only ever costs a few hundred KB.
    if (ctx.literals.size >= LITERAL_CACHE_ENTRIES) ctx.literals.clear();
    ctx.literals.set(text, x);
    return x;
  }
  return parseUncached(ctx, text, column);
}

const LITERAL_CACHE_TEXT = 24;
const LITERAL_CACHE_ENTRIES = 4096;

function parseUncached(ctx: CalcContext, text: string, column: number): Decimal {
  let x = new ctx.D(text);
  if (text.length > ctx.precision) x = x.toSignificantDigits(ctx.precision);
  if (!x.isFinite()) overflowError(column);
  if (x.isZero() && hasNonZeroDigit(text)) underflowError(column);
  return x;
}

function hasNonZeroDigit(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 101 || c === 69) return false;
    if (c >= 49 && c <= 57) return true;
  }
  return false;
}

/**
 * log10|x| as a float, from the exponent and the first two base-1e7 words of the digits: enough for
 * magnitude estimates at any exponent within the bounds. `x` must be finite and nonzero.
 */
export function log10Abs(x: Decimal): number {
  const d = x.d;
  const w0 = d[0] ?? 1;
  let lead = 1;
  for (let t = w0; t >= 10; t = Math.floor(t / 10)) lead *= 10;
  return x.e + Math.log10((w0 + (d[1] ?? 0) / 1e7) / lead);
}
