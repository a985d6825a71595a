/**
 * The calc engine: a pure function from an expression and the session's variables to a decimal string.
 * See docs/calc.md for the language, the limits and the inline/worker cost model.
 */
import { NexoError } from '../../errors.js';
import { INLINE_BUDGET_US, Meter, NeedsWorker } from './cost.js';
import { type CalcContext, CONSTANT_DIGITS, contextFor, recover } from './decimal.js';
import { type Evaluation, evaluate } from './evaluate.js';
import { calcError } from './fail.js';
import { formatResult } from './format.js';
import { type CalcLimits, DEFAULT_CALC_LIMITS, limitsProblem } from './limits.js';
import { parse } from './parser.js';
import { Op, type Program } from './program.js';
import { type IntegerPlan, planSmallIntegers, runSmallIntegers } from './small-integers.js';
import { warmUp } from './warmup.js';

export { NeedsWorker } from './cost.js';
export { type CalcLimits, checkCalcLimits, DEFAULT_CALC_LIMITS } from './limits.js';

export type Budget = 'inline' | 'worker';

export interface CalcResult {
  value: string;
  /** The variable to store `value` in, for `name = expression`. */
  assigned?: string;
}

/**
 * Evaluates `expr`. Throws only NexoError with a CALC_* code, or NeedsWorker in 'inline' mode when the
 * expression is estimated too costly for the event loop (run it again with 'worker' off the loop).
 */
export function calculate(
  expr: string,
  vars: ReadonlyMap<string, string>,
  limits: CalcLimits,
  budget: Budget,
): CalcResult {
  return run(expr, vars, limits, new Meter(budget === 'inline'));
}

/**
 * Evaluates in 'worker' mode and also returns the cost model's estimate in microseconds; for calibration
 * and tests, which check that estimates stay above measured times.
 */
export function calculateWithEstimate(
  expr: string,
  vars: ReadonlyMap<string, string>,
  limits: CalcLimits,
): { result: CalcResult; estimatedUs: number } {
  const meter = new Meter(false);
  const result = run(expr, vars, limits, meter);
  return { result, estimatedUs: meter.total };
}

function run(expr: string, vars: ReadonlyMap<string, string>, limits: CalcLimits, meter: Meter): CalcResult {
  if (expr.length > limits.maxLength) {
    throw new NexoError(
      'CALC_TOO_COMPLEX',
      `expression too long: ${expr.length} characters (the limit is ${limits.maxLength})`,
      { length: expr.length, limit: limits.maxLength },
    );
  }
  const cache = programsFor(limits);
  const ctx = contextFor(limits.precision);
  const state: Evaluation = { column: 1 };
  try {
    // Charged whether or not the program is cached, so the cost model decides the same either way.
    meter.charge(ctx.cost.base + expr.length * ctx.cost.parsePerChar, 1, 'parsing');
    const { program, floor, integers } = cache.get(expr) ?? compile(cache, expr, limits, ctx);
    // Each instruction costs at least this much; skip evaluating what would surely run out of budget.
    if (meter.inline && floor > INLINE_BUDGET_US) {
      throw new NeedsWorker(`an expression of ${program.code.length} nodes is too costly to evaluate inline`);
    }
    const value =
      (integers === undefined ? undefined : runSmallIntegers(program, integers, meter)) ??
      formatResult(evaluate(program, vars, ctx, meter, state));
    return program.assign === undefined ? { value } : { value, assigned: program.assign };
  } catch (err) {
    throw foreign(err, ctx, state.column);
  }
}

/**
 * Parsed programs by expression text, one table per limits object (the limits shape what parses). Parsing
 * is about a third of the cost of a small expression, and clients repeat expressions (scripts, dashboards,
 * `ans*2`). Programs are immutable; a variable's value is read at evaluation, so a hit gives the same
 * result as a parse. Bounded: oldest out first, and long expressions are never kept.
 */
interface Compiled {
  readonly program: Program;
  /** floorCost of the program. */
  readonly floor: number;
  /** How to run it on doubles, when it is small-integer arithmetic (small-integers.ts). */
  readonly integers: IntegerPlan | undefined;
}
const PROGRAM_CACHE_ENTRIES = 1024;
const PROGRAM_CACHE_TEXT = 256;
const programTables = new WeakMap<CalcLimits, Map<string, Compiled>>();

function programsFor(limits: CalcLimits): Map<string, Compiled> {
  let table = programTables.get(limits);
  if (table === undefined) {
    // Checked once per limits object, when its table is made (limits are not changed after use).
    const problem = limitsProblem(limits);
    if (problem !== undefined) throw new NexoError('CALC_TOO_COMPLEX', `invalid calc limits: ${problem}`);
    table = new Map();
    programTables.set(limits, table);
  }
  return table;
}

function compile(table: Map<string, Compiled>, expr: string, limits: CalcLimits, ctx: CalcContext): Compiled {
  const program = parse(expr, limits);
  const compiled: Compiled = {
    program,
    floor: floorCost(program, ctx),
    integers: planSmallIntegers(program, ctx),
  };
  if (expr.length <= PROGRAM_CACHE_TEXT) {
    if (table.size >= PROGRAM_CACHE_ENTRIES) table.delete(table.keys().next().value as string);
    table.set(expr, compiled);
  }
  return compiled;
}

function floorCost(program: Program, ctx: CalcContext): number {
  const { node, add } = ctx.cost;
  let sum = 0;
  for (const ins of program.code) sum += ins.op <= Op.Neg ? node : add;
  return sum;
}

/** Turns whatever else was thrown (decimal.js, the VM) into a CALC_* error. */
function foreign(err: unknown, ctx: CalcContext, column: number): NexoError | NeedsWorker {
  if (err instanceof NexoError || err instanceof NeedsWorker) return err;
  recover(ctx);
  const message = err instanceof Error ? err.message : String(err);
  if (message.includes('Precision limit exceeded')) {
    return new NexoError(
      'CALC_TOO_COMPLEX',
      `too costly to evaluate at column ${column}: this needs more than the ${CONSTANT_DIGITS} digits of pi and ln(10) available at precision ${ctx.precision}`,
      { column },
      { cause: err },
    );
  }
  if (message.startsWith('[DecimalError]')) {
    const error = calcError('CALC_DOMAIN', 'domain error', column, message.slice('[DecimalError] '.length));
    return new NexoError(error.code, error.message, error.details, { cause: err });
  }
  // Stack or memory exhaustion, in practice.
  return new NexoError(
    'CALC_TOO_COMPLEX',
    `too costly to evaluate at column ${column}: ${message}`,
    { column },
    { cause: err },
  );
}

/**
 * Compiles decimal.js's hot paths before the first client arrives. The calc service calls it when the node
 * starts (not at import, so CLI commands that never serve do not pay for it); worker threads do not need it,
 * they have a whole second per expression.
 */
export function warmUpEngine(limits: CalcLimits = DEFAULT_CALC_LIMITS): void {
  warmUp(calculate, limits);
}
