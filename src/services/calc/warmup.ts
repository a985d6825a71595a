/**
 * The first calls of a cold process run decimal.js in V8's interpreter and take milliseconds each
 * (sqrt(2) ~1 ms, ln(2) ~3 ms) — far past the inline budget the cost model assumes. Running a small corpus
 * once at startup compiles the hot paths, so the first client does not pay for it on the event loop.
 */
import { contextFor } from './decimal.js';
import type { CalcLimits } from './limits.js';

type Calculate = (
  expr: string,
  vars: ReadonlyMap<string, string>,
  limits: CalcLimits,
  budget: 'worker',
) => unknown;

const CORPUS = [
  '2*(3+4)-1/3',
  '0.1+0.2%0.7',
  'x*2-x',
  'sqrt(2)',
  '2^0.5',
  '1.5^2.5',
  '2^-10',
  'sin(1)',
  'cos(2)',
  'tan(3)',
  'ln(2)',
  'log(3)',
  'log(3, 2)',
  'exp(1.5)',
  'round(2.5, 1)+floor(1.5)+ceil(1.5)+abs(-1)',
  'max(1, 2)-min(1, 2)',
];

/** About 100 ms once per process; fewer rounds leave first calls at 1–8 ms while V8 still optimizes. */
export function warmUp(calculate: Calculate, limits: CalcLimits, rounds = 8): void {
  const vars = new Map([['x', '3']]);
  const memo = contextFor(limits.precision).memo;
  for (let i = 0; i < rounds; i++) {
    // Every round must compute, not find last round's results.
    memo.clear();
    for (const expr of CORPUS) calculate(expr, vars, limits, 'worker');
  }
  memo.clear();
}
