import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Meter } from '../../../src/services/calc/cost.js';
import { contextFor } from '../../../src/services/calc/decimal.js';
import { calculate, DEFAULT_CALC_LIMITS } from '../../../src/services/calc/engine.js';
import { evaluate } from '../../../src/services/calc/evaluate.js';
import { formatResult } from '../../../src/services/calc/format.js';
import { parse } from '../../../src/services/calc/parser.js';
import { evaluateSmallIntegers } from '../../../src/services/calc/small-integers.js';

/** Integer expressions of + - * and unary minus, with literals around the path's limits. */
const literal = fc.oneof(
  fc.integer({ min: 0, max: 99 }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 16n }).map(String),
  fc.constantFrom('999999999999999', '1000000000000000', '007', '0', '1.5', '1e3', '.5'),
);
const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal,
    fc.tuple(tie('e'), fc.constantFrom('+', '-', '*'), tie('e')).map(([a, op, b]) => `(${a})${op}(${b})`),
    tie('e').map((a) => `-(${a})`),
  ),
})).e;

describe('calc: the small-integer path', () => {
  it("gives the Decimal loop's value and charges the same, at any precision (property)", () => {
    let taken = 0;
    fc.assert(
      fc.property(expression, fc.constantFrom(1, 3, 5, 15, 16, 64), (expr, precision) => {
        const limits = { ...DEFAULT_CALC_LIMITS, precision };
        const ctx = contextFor(precision);
        const program = parse(expr, limits);
        const fast = new Meter(false);
        const value = evaluateSmallIntegers(program, ctx, fast);
        if (value === undefined) return;
        taken++;
        const slow = new Meter(false);
        let expected: string;
        try {
          expected = formatResult(evaluate(program, new Map(), ctx, slow, { column: 1 }));
        } catch (err) {
          throw new Error(`the Decimal loop failed where the integer path gave ${value}: ${err}`);
        }
        expect(value).toBe(expected);
        expect(fast.total).toBeCloseTo(slow.total, 9);
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(500);
  });

  it('hands values past 15 digits, or past the precision, to decimal.js', () => {
    const ctx = contextFor(64);
    const run = (expr: string, c = ctx) =>
      evaluateSmallIntegers(parse(expr, DEFAULT_CALC_LIMITS), c, new Meter(false));
    expect(run('2*(3+4)')).toBe('14');
    expect(run('-(0)*5')).toBe('0');
    expect(run('999999999999999+0')).toBe('999999999999999');
    expect(run('999999999999999+1')).toBeUndefined();
    expect(run('99999999*99999999')).toBeUndefined(); // 1e16: inexact as a double
    expect(run('1.5+1')).toBeUndefined();
    expect(run('2/2')).toBeUndefined();
    expect(run('x+1')).toBeUndefined();
    expect(run('999+1', contextFor(3))).toBeUndefined(); // 1000 has 4 digits: decimal.js prints 1e+3
    // And the engine still answers those exactly.
    expect(calculate('99999999*99999999', new Map(), DEFAULT_CALC_LIMITS, 'inline').value).toBe(
      '9999999800000001',
    );
  });

  it('stays right after a client fills the program cache past its bound with distinct expressions', () => {
    for (let i = 0; i < 3000; i++) {
      expect(calculate(`${i}*2+1`, new Map(), DEFAULT_CALC_LIMITS, 'inline').value).toBe(String(i * 2 + 1));
    }
    // Long expressions are never kept, and still evaluate.
    const long = `${'1+'.repeat(200)}1`;
    expect(calculate(long, new Map(), DEFAULT_CALC_LIMITS, 'inline').value).toBe('201');
    expect(calculate('0*2+1', new Map(), DEFAULT_CALC_LIMITS, 'inline').value).toBe('1'); // evicted: parsed again
  });

  it('caches programs without caching results: a variable read is read again', () => {
    const vars = new Map([['x', '2']]);
    expect(calculate('x*3', vars, DEFAULT_CALC_LIMITS, 'inline').value).toBe('6');
    vars.set('x', '5');
    expect(calculate('x*3', vars, DEFAULT_CALC_LIMITS, 'inline').value).toBe('15');
    const tight = { ...DEFAULT_CALC_LIMITS, maxDepth: 2 };
    // The same text under other limits is parsed under those limits.
    expect(calculate('((((1))))', new Map(), DEFAULT_CALC_LIMITS, 'inline').value).toBe('1');
    expect(() => calculate('((((1))))', new Map(), tight, 'inline')).toThrowError(
      expect.objectContaining({ code: 'CALC_TOO_COMPLEX' }),
    );
  });
});
