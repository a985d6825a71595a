/**
 * Most calculator traffic is small-integer arithmetic (2*(3+4)). While every value is an integer of at most
 * min(15, precision) digits, +, -, * and unary minus on doubles are exact and give what decimal.js gives
 * (decimal.js is exact on integers within the precision and prints them the same way; -0 prints as 0 in
 * both), so such a program runs on plain numbers at a fraction of the cost.
 *
 * The plan is made once per compiled program: whether every instruction qualifies, each literal's value, and
 * what the Decimal loop would charge the meter. Running it is only the arithmetic; a value that leaves the
 * range returns undefined and the program runs on Decimals from the start. The meter is charged once, when
 * the arithmetic (a few nanoseconds) has finished, with the total the Decimal loop would have charged: the
 * same decision (charges are never negative), and nothing charged twice when the Decimals take over.
 */
import type { Meter } from './cost.js';
import type { CalcContext } from './decimal.js';
import { Op, type Program } from './program.js';

export interface IntegerPlan {
  /** The value of each Num instruction, at that instruction's index (other slots are 0 and never read). */
  readonly literals: Float64Array;
  /** What the Decimal loop charges for the whole program. */
  readonly charge: number;
  /** Values must stay strictly inside ±limit. */
  readonly limit: number;
}

const DIGITS = /^[0-9]{1,15}$/;

/** A plan for the program, or undefined when an instruction or a literal is not one it can run. */
export function planSmallIntegers(program: Program, ctx: CalcContext): IntegerPlan | undefined {
  const code = program.code;
  const cost = ctx.cost;
  const literals = new Float64Array(code.length);
  let charge = 0;
  for (let i = 0; i < code.length; i++) {
    const ins = code[i]!;
    switch (ins.op) {
      case Op.Num:
        if (!DIGITS.test(ins.text)) return undefined;
        literals[i] = Number(ins.text);
        charge += cost.literal + ins.text.length * cost.perChar;
        break;
      case Op.Neg:
        charge += cost.node;
        break;
      case Op.Add:
      case Op.Sub:
        charge += cost.add;
        break;
      case Op.Mul:
        charge += cost.mul;
        break;
      default:
        return undefined;
    }
  }
  return { literals, charge, limit: ctx.precision >= 15 ? 1e15 : 10 ** ctx.precision };
}

/** Runs a planned program; undefined when a value leaves the range (then decimal.js must). */
export function runSmallIntegers(program: Program, plan: IntegerPlan, meter: Meter): string | undefined {
  const code = program.code;
  const { literals, limit } = plan;
  const stack: number[] = [];
  for (let i = 0; i < code.length; i++) {
    const op = code[i]!.op;
    let r: number;
    if (op === Op.Num) r = literals[i]!;
    else if (op === Op.Neg) r = -(stack.pop() as number);
    else {
      const b = stack.pop() as number;
      const a = stack.pop() as number;
      r = op === Op.Mul ? a * b : op === Op.Add ? a + b : a - b;
    }
    // Rounding is monotonic: a true result at or past the limit never comes out of the double below it.
    if (r >= limit || r <= -limit) return undefined;
    stack.push(r);
  }
  meter.charge(plan.charge, 1, 'the expression');
  return String(stack[0]);
}

/** Plan and run in one go, for a program that is not cached. */
export function evaluateSmallIntegers(program: Program, ctx: CalcContext, meter: Meter): string | undefined {
  const plan = planSmallIntegers(program, ctx);
  return plan === undefined ? undefined : runSmallIntegers(program, plan, meter);
}
