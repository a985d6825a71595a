import { describe, expect, it } from 'vitest';
import { NexoError } from '../../../src/errors.js';
import { calculate, DEFAULT_CALC_LIMITS } from '../../../src/services/calc/engine.js';
import { failure, VARS } from './helpers.js';

describe('calc errors', () => {
  it.each([
    ['', 1, 'syntax error at column 1: the expression is empty'],
    ['  \t ', 1, 'syntax error at column 1: the expression is empty'],
    ['1 +', 4, 'syntax error at column 4: unexpected end of expression'],
    ['(', 2, 'syntax error at column 2: unexpected end of expression'],
    ['1+2)', 4, "syntax error at column 4: unexpected ')'"],
    ['()', 2, "syntax error at column 2: unexpected ')'"],
    ['(1+2', 5, "syntax error at column 5: expected ')' to close '(' at column 1"],
    ['sqrt(1', 7, "syntax error at column 7: expected ')' to close '(' at column 5"],
    ['1 $ 2', 3, "syntax error at column 3: unexpected character '$'"],
    ['2 × 3', 3, "syntax error at column 3: unexpected character '×' (use '*' to multiply)"],
    ['3 − 1', 3, "syntax error at column 3: unexpected character '−' (use '-' for minus)"],
    [
      '1\u00a0+ 1',
      2,
      'syntax error at column 2: unexpected character U+00A0 (a no-break space; use a plain space)',
    ],
    ['\u0000', 1, 'syntax error at column 1: unexpected character U+0000'],
    ['1+\ud800', 3, 'syntax error at column 3: unexpected character U+D800'],
    ['😀+1', 1, "syntax error at column 1: unexpected character '😀'"],
    // Columns count UTF-16 code units: the emoji takes two.
    ['(😀)', 2, "syntax error at column 2: unexpected character '😀'"],
    ['2**3', 3, "syntax error at column 3: unexpected '*' (use ^ for powers)"],
    ['1,5', 2, "syntax error at column 2: unexpected ',' (use '.' as the decimal point)"],
    ['2x', 2, "syntax error at column 2: unexpected name 'x' (missing operator?)"],
    ['2 3', 3, "syntax error at column 3: unexpected number '3' (missing operator?)"],
    ['2(3)', 2, "syntax error at column 2: unexpected '(' (missing operator?)"],
    ['1e', 2, "syntax error at column 2: malformed number '1e': expected digits after 'e'"],
    ['1.5E+', 4, "syntax error at column 4: malformed number '1.5E+': expected digits after 'E'"],
    ['.', 1, "syntax error at column 1: unexpected character '.'"],
    ['1 == 2', 3, "syntax error at column 3: unexpected '=' (assignments look like: name = expression)"],
    ['(x) = 2', 5, "syntax error at column 5: unexpected '=' (assignments look like: name = expression)"],
    ['x = ', 5, 'syntax error at column 5: unexpected end of expression'],
    ['sqrt + 1', 1, 'syntax error at column 1: sqrt is a function: call it as sqrt(x)'],
  ])('CALC_SYNTAX for %j', (expr, column, message) => {
    const err = failure(expr);
    expect(err.code).toBe('CALC_SYNTAX');
    expect(err.message).toBe(message);
    expect(err.details?.column).toBe(column);
  });

  it.each([
    ['1/0', 'division by zero at column 2', 2],
    ['1 % 0', 'modulo by zero at column 3', 3],
    ['x / (x - 3)', 'division by zero at column 3', 3],
  ])('CALC_DIVISION_BY_ZERO for %j', (expr, message, column) => {
    const err = failure(expr);
    expect(err.code).toBe('CALC_DIVISION_BY_ZERO');
    expect(err.message).toBe(message);
    expect(err.details).toEqual({ column });
  });

  it.each([
    ['sqr(2)', "unknown function 'sqr' at column 1: did you mean sqrt?"],
    ['1 + Sqrt(4)', "unknown function 'Sqrt' at column 5: did you mean sqrt?"],
    ['mx(1, 2)', "unknown function 'mx' at column 1: did you mean max?"],
    ['pi(2)', "unknown function 'pi' at column 1: pi is a constant"],
    [
      'x(2)',
      "unknown function 'x' at column 1: the functions are sqrt, abs, floor, ceil, round, min, max, sin, cos, tan, log, ln, exp",
    ],
  ])('CALC_UNKNOWN_FUNCTION for %j', (expr, message) => {
    const err = failure(expr);
    expect(err.code).toBe('CALC_UNKNOWN_FUNCTION');
    expect(err.message).toBe(message);
  });

  it.each([
    ['q + 1', "unknown variable 'q' at column 1", 1],
    ['2 * Pi', "unknown variable 'Pi' at column 5: did you mean pi?", 5],
    ['xx', "unknown variable 'xx' at column 1: did you mean x?", 1],
    ['ans', "unknown variable 'ans' at column 1: there is no previous result yet", 1],
  ])('CALC_UNKNOWN_VARIABLE for %j', (expr, message, column) => {
    const vars = new Map(VARS);
    vars.delete('ans');
    const err = failure(expr, 'worker', DEFAULT_CALC_LIMITS, vars);
    expect(err.code).toBe('CALC_UNKNOWN_VARIABLE');
    expect(err.message).toBe(message);
    expect(err.details?.column).toBe(column);
  });

  it.each([
    ['sqrt(1, 2)', 'wrong number of arguments at column 1: sqrt takes 1 argument but got 2 (usage: sqrt(x))'],
    [
      'min()',
      'wrong number of arguments at column 1: min takes at least 1 argument but got 0 (usage: min(a, b, ...))',
    ],
    [
      '1+round(1, 2, 3)',
      'wrong number of arguments at column 3: round takes 1 or 2 arguments but got 3 (usage: round(x) or round(x, digits))',
    ],
    ['exp()', 'wrong number of arguments at column 1: exp takes 1 argument but got 0 (usage: exp(x))'],
  ])('CALC_ARITY for %j', (expr, message) => {
    const err = failure(expr);
    expect(err.code).toBe('CALC_ARITY');
    expect(err.message).toBe(message);
  });

  it.each([
    ['sqrt(-1)', 'domain error at column 1: sqrt is undefined for negative numbers (got -1)'],
    ['ln(0)', 'domain error at column 1: ln is undefined for zero and negative numbers (got 0)'],
    ['ln(-2)', 'domain error at column 1: ln is undefined for zero and negative numbers (got -2)'],
    ['log(-1)', 'domain error at column 1: log is undefined for zero and negative numbers (got -1)'],
    ['log(10, 1)', 'domain error at column 1: the base of log must be positive and not 1 (got 1)'],
    ['log(10, 0)', 'domain error at column 1: the base of log must be positive and not 1 (got 0)'],
    ['0^-1', 'domain error at column 2: 0 cannot be raised to a negative power (0^-1)'],
    [
      '(-8)^(1/3)',
      'domain error at column 5: a negative number cannot be raised to a non-integer power ((-8)^0.333333333333333…); the result is not real',
    ],
    [
      'round(1, 0.5)',
      'domain error at column 1: round digits must be an integer from -1000000 to 1000000 (got 0.5)',
    ],
    [
      'round(1, 1000000000)',
      'domain error at column 1: round digits must be an integer from -1000000 to 1000000 (got 1000000000)',
    ],
    ['sin(1e1000)', 'domain error at column 1: sin needs |x| < 1e500 (got 1e+1000)'],
  ])('CALC_DOMAIN for %j', (expr, message) => {
    const err = failure(expr);
    expect(err.code).toBe('CALC_DOMAIN');
    expect(err.message).toBe(message);
  });

  it('CALC_DOMAIN for a variable that does not hold a number', () => {
    const err = failure('v + 1', 'worker', DEFAULT_CALC_LIMITS, new Map([['v', 'Infinity']]));
    expect(err.code).toBe('CALC_DOMAIN');
    expect(err.message).toBe("domain error at column 1: variable 'v' holds 'Infinity', not a number");
  });

  const TOO_LARGE = 'overflow at column %c: the result is too large (magnitudes must stay below 1e+1000001)';
  const TOO_SMALL =
    'underflow at column %c: the result is too small (nonzero magnitudes must be at least 1e-1000000)';
  it.each([
    ['1e1000001', TOO_LARGE, 1],
    ['1e-1000001', TOO_SMALL, 1],
    ['1e1000000 * 10', TOO_LARGE, 11],
    ['1e-999999 / 1e10', TOO_SMALL, 11],
    ['1.5e-1000000 - 1.4e-1000000', TOO_SMALL, 14],
    ['9e1000000 + 9e1000000', TOO_LARGE, 11],
    ['9^9^9^9', TOO_LARGE, 4],
    ['10^1000001', TOO_LARGE, 3],
    ['0.1^1000001', TOO_SMALL, 4],
    ['1.0000001^1e15', TOO_LARGE, 10],
    ['exp(1e15)', TOO_LARGE, 1],
    ['exp(-1e15)', TOO_SMALL, 1],
    ['exp(2302588)', TOO_LARGE, 1],
    ['round(9.99e1000000, -1000000)', TOO_LARGE, 1],
  ])('CALC_OVERFLOW for %j', (expr, message, column) => {
    const err = failure(expr);
    expect(err.code).toBe('CALC_OVERFLOW');
    expect(err.message).toBe(message.replace('%c', String(column)));
    expect(err.details).toEqual({ column });
  });

  it('CALC_TOO_COMPLEX for a long expression, before reading it', () => {
    const limits = { ...DEFAULT_CALC_LIMITS, maxLength: 10 };
    const err = failure('1+1+1+1+1+1', 'inline', limits);
    expect(err.code).toBe('CALC_TOO_COMPLEX');
    expect(err.message).toBe('expression too long: 11 characters (the limit is 10)');
    expect(err.details).toEqual({ length: 11, limit: 10 });
  });

  it('CALC_TOO_COMPLEX for deep nesting of every kind', () => {
    const limits = { ...DEFAULT_CALC_LIMITS, maxDepth: 3 };
    for (const [expr, column] of [
      ['((((1))))', 4],
      ['----1', 4],
      ['2^2^2^2^2', 8],
      ['abs(abs(abs(abs(1))))', 16],
      ['(-abs((1)))', 7],
    ] as const) {
      const err = failure(expr, 'worker', limits);
      expect(err.code).toBe('CALC_TOO_COMPLEX');
      expect(err.message).toBe(
        `expression too deeply nested at column ${column}: more than 3 levels of parentheses, signs, function calls or powers`,
      );
    }
    expect(() => calculate('(((1)))', VARS, limits, 'worker')).not.toThrow();
    expect(() => calculate('1+1+1+1+1+1+1+1', VARS, limits, 'worker')).not.toThrow();
  });

  it('CALC_TOO_COMPLEX for too many nodes', () => {
    const limits = { ...DEFAULT_CALC_LIMITS, maxNodes: 5 };
    expect(calculate('1+2+3', VARS, limits, 'worker').value).toBe('6');
    const err = failure('1+2+3+4', 'worker', limits);
    expect(err.code).toBe('CALC_TOO_COMPLEX');
    expect(err.message).toBe(
      'expression too large at column 7: more than 5 numbers, names, operators and calls',
    );
  });

  it('CALC_TOO_COMPLEX for one operation far too costly', () => {
    const err = failure('1e999999 % 7');
    expect(err.code).toBe('CALC_TOO_COMPLEX');
    expect(err.message).toBe('too costly to evaluate at column 10: the modulo would take too long');
  });

  it('CALC_TOO_COMPLEX for trigonometry beyond the digits of pi at high precision', () => {
    const limits = { ...DEFAULT_CALC_LIMITS, precision: 900 };
    const err = failure('sin(1e200)', 'worker', limits);
    expect(err.code).toBe('CALC_TOO_COMPLEX');
    expect(err.message).toContain('needs 1107 digits of pi at precision 900, more than the 1025 available');
  });

  it('CALC_TOO_COMPLEX for unusable limits', () => {
    const err = failure('1', 'worker', { ...DEFAULT_CALC_LIMITS, precision: 0 });
    expect(err.code).toBe('CALC_TOO_COMPLEX');
    expect(err.message).toBe('invalid calc limits: precision must be an integer from 1 to 1000 (got 0)');
  });

  it.each([
    ['pi = 3', "cannot assign to 'pi' at column 1: pi is a constant"],
    ['e = 1', "cannot assign to 'e' at column 1: e is a constant"],
    ['sqrt = 1', "cannot assign to 'sqrt' at column 1: sqrt is a function"],
    [
      `${'a'.repeat(33)} = 1`,
      `cannot assign to '${'a'.repeat(32)}…' at column 1: variable names have at most 32 characters (this one has 33)`,
    ],
  ])('CALC_BAD_ASSIGNMENT for %j', (expr, message) => {
    const err = failure(expr);
    expect(err.code).toBe('CALC_BAD_ASSIGNMENT');
    expect(err.message).toBe(message);
    expect(err.details?.column).toBe(1);
  });

  it('keeps messages short for huge names and numbers', () => {
    const name = 'q'.repeat(60_000);
    const err = failure(name, 'worker', { ...DEFAULT_CALC_LIMITS, maxLength: 100_000 });
    expect(err.code).toBe('CALC_UNKNOWN_VARIABLE');
    expect(err.message.length).toBeLessThan(100);
    const number = failure(`1 ${'9'.repeat(1000)}`);
    expect(number.message).toBe(
      `syntax error at column 3: unexpected number '${'9'.repeat(24)}…' (missing operator?)`,
    );
  });

  it('throws NexoError instances with the shared error payload shape', () => {
    const err = failure('1/0');
    expect(err).toBeInstanceOf(NexoError);
    expect(err.toPayload()).toEqual({
      code: 'CALC_DIVISION_BY_ZERO',
      message: 'division by zero at column 2',
      details: { column: 2 },
    });
  });
});
