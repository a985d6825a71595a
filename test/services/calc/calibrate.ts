/**
 * Compares the cost model's estimates with measured times, per operation and precision.
 * Run: npx tsx test/services/calc/calibrate.ts [precisions, e.g. 16,64,256]
 * Every ratio (estimate / measured) should stay above 1; a row marked "LOW" needs its constant raised
 * in src/services/calc/cost.ts. The first rows of a precision can read high while the garbage of the
 * warm-up pass is collected; run it twice before trusting a LOW on a cheap operation.
 */
import { contextFor } from '../../../src/services/calc/decimal.js';
import { calculateWithEstimate, DEFAULT_CALC_LIMITS } from '../../../src/services/calc/engine.js';

let seed = 7;
function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    s += String(i === 0 ? 1 + (seed % 9) : seed % 10);
  }
  return s;
}

/** A full-precision number with `n` digits and the given exponent. */
const full = (n: number, exponent = 0): string => `${digits(n).replace(/^(\d)/, '$1.')}e${exponent}`;

const EXPRESSIONS = [
  'a+b',
  'a*b',
  'a/b',
  'a%b',
  'sqrt(a)',
  'ln(a)',
  'ln(big)',
  'log(a)',
  'log(a, b)',
  'log(8, 2)',
  'exp(a)',
  'exp(2e6+a)',
  'sin(a)',
  'cos(a)',
  'tan(a)',
  'sin(1)',
  'cos(1)',
  'tan(1)',
  'sin(1.5)',
  'cos(1.5)',
  'sin(1.2345678)',
  'sin(0.7)',
  'cos(0.7)',
  'tan(1.5)',
  'sin(a*1e100)',
  'sin(a*1e300)',
  'tan(a*1e300)',
  'a^b',
  'a^0.3',
  '8^(1/3)',
  '27^1.5',
  '4^1.5',
  '16^0.25',
  '100^1.5',
  'a^123456',
  '1.000000000001^1e15',
  '(1+1e-60)^9007199254740991',
  'a*1e1000 % 7',
  'a*1e10000 % 7',
  'a*1e10000 % b',
  'a*1e30000 % b',
  'a*1e100000 % 7',
  'a*1e100000 % b',
  'round(a, 5)',
  'max(a, b, a)',
  `${Array.from({ length: 500 }, (_, i) => `${i}.5`).join('+')}`,
  `${Array.from({ length: 2000 }, () => '1').join('+')}`,
  `${Array.from({ length: 300 }, () => 'a*b').join('-')}`,
  `${Array.from({ length: 300 }, () => 'a/b').join('+')}`,
];

function measure(expr: string, vars: Map<string, string>, precision: number) {
  const limits = { ...DEFAULT_CALC_LIMITS, precision, maxNodes: 100_000 };
  // Measure the functions, not the memo's lookups.
  const memo = contextFor(precision).memo;
  const run = () => {
    memo.clear();
    return calculateWithEstimate(expr, vars, limits);
  };
  let estimate = 0;
  try {
    estimate = run().estimatedUs;
  } catch (err) {
    return { estimate: Number.NaN, measured: Number.NaN, note: (err as Error).message.slice(0, 60) };
  }
  // Warm up, then take the median of seven windows of at least 10 ms (or 2 runs): GC pauses and JIT
  // tier-ups land in a few windows, not in the median.
  for (let i = 0; i < 5; i++) run();
  const windows: number[] = [];
  for (let w = 0; w < 7; w++) {
    let runs = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < 10 || runs < 2) {
      run();
      runs++;
      elapsed = performance.now() - start;
    }
    windows.push((elapsed * 1000) / runs);
  }
  windows.sort((x, y) => x - y);
  return { estimate, measured: windows[3] ?? 0, note: '' };
}

const precisions = (process.argv[2] ?? '16,64,256,1000').split(',').map(Number);
for (const precision of precisions) {
  const vars = new Map([
    ['a', full(precision)],
    ['b', full(precision, -1)],
    ['big', full(precision, 300)],
  ]);
  console.log(`\nprecision ${precision}`);
  // A new precision is a new Decimal clone: let V8 settle before the first measurement.
  for (const expr of EXPRESSIONS) {
    try {
      calculateWithEstimate(expr, vars, { ...DEFAULT_CALC_LIMITS, precision, maxNodes: 100_000 });
    } catch {}
  }
  for (const expr of EXPRESSIONS) {
    const { estimate, measured, note } = measure(expr, vars, precision);
    const ratio = estimate / measured;
    const flag = ratio < 1 ? ' LOW' : '';
    console.log(
      `${expr.slice(0, 28).padEnd(28)} est ${estimate.toFixed(0).padStart(8)} µs  measured ${measured.toFixed(0).padStart(8)} µs  ratio ${ratio.toFixed(2)}${flag} ${note}`,
    );
  }
}
