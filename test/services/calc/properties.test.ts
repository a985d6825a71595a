import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calc, outcome } from './helpers.js';

const TOKENS = [
  '1',
  '2.5',
  '.5',
  '0',
  '1e3',
  '1e-3',
  '1e999999',
  '1e-999999',
  '9',
  'x',
  'y',
  'ans',
  'q',
  'pi',
  'e',
  'sqrt',
  'sin',
  'tan',
  'ln',
  'exp',
  'round',
  'min',
  'log',
  '(',
  ')',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  ',',
  '=',
  ' ',
  '.',
  'E',
  '$',
  'é',
  '😀',
  '\ud800',
];

/** Random text: arbitrary code points (lone surrogates included) or soups of calculator tokens. */
const inputs = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...'0123456789.+-*/%^(),=eE xyz'), maxLength: 40 }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map((t) => t.join('')),
);

describe('calc properties', () => {
  it('throws only CALC_* NexoErrors, and NeedsWorker only inline', () => {
    fc.assert(
      fc.property(inputs, (expr) => {
        const worker = outcome(expr, 'worker');
        expect(worker).not.toBe('NeedsWorker');
        const inline = outcome(expr, 'inline');
        // Inline either agrees with the worker or defers to it.
        if (inline !== 'NeedsWorker') expect(inline).toBe(worker);
      }),
      { numRuns: 1500 },
    );
  });

  const int = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });
  it('matches BigInt for integer + - * %', () => {
    fc.assert(
      fc.property(int, int, (a, b) => {
        expect(calc(`${a} + ${b}`).value).toBe(String(a + b));
        expect(calc(`(${a}) - (${b})`).value).toBe(String(a - b));
        expect(calc(`(${a}) * (${b})`).value).toBe(String(a * b));
        if (b !== 0n) expect(calc(`(${a}) % (${b})`).value).toBe(String(a % b));
      }),
      { numRuns: 500 },
    );
  });

  it('matches BigInt for integer powers', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 6n), max: 10n ** 6n }),
        fc.integer({ min: 0, max: 10 }),
        (a, k) => {
          expect(calc(`(${a})^${k}`).value).toBe(String(a ** BigInt(k)));
        },
      ),
      { numRuns: 300 },
    );
  });

  // Up to 20 digits at exponents within ±20: every sum spans at most 61 digits, exact at precision 64.
  const decimal = fc
    .tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: -20, max: 20 }))
    .map(([m, k]) => `${m}e${k}`);
  it('a + b - b equals a for decimals', () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        expect(calc(`(${a}) + (${b}) - (${b})`).value).toBe(calc(a).value);
      }),
      { numRuns: 500 },
    );
  });

  it('prints values that read back as themselves', () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        fc.pre(!/^-?0e/.test(b));
        const r = calc(`(${a}) / (${b})`);
        expect(calc('v', new Map([['v', r.value]])).value).toBe(r.value);
      }),
      { numRuns: 300 },
    );
  });
});
