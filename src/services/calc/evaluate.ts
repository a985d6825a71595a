/** Runs postfix code on an explicit stack of Decimals. */
import type { NexoError } from '../../errors.js';
import type { Meter } from './cost.js';
import { type CalcContext, type Decimal, parseLiteral } from './decimal.js';
import { calcError, quoteName } from './fail.js';
import { CONSTANTS, type FunctionSpec } from './functions.js';
import { add, divide, modulo, multiply, power, subtract } from './operators.js';
import { Op, type Program } from './program.js';
import { suggest } from './suggest.js';

/** The shape of values the caller stores (our own results): sign, digits, optional exponent. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Our results are at most ~1010 characters; anything much longer was not written by this engine. */
const MAX_VALUE_LENGTH = 4096;

export interface Evaluation {
  /** Column of the instruction being executed, for errors raised inside decimal.js. */
  column: number;
}

export function evaluate(
  program: Program,
  vars: ReadonlyMap<string, string>,
  ctx: CalcContext,
  meter: Meter,
  state: Evaluation,
): Decimal {
  const stack: Decimal[] = [];
  const cost = ctx.cost;
  // Each variable is parsed once per evaluation, however often the expression reads it.
  let read: Map<string, Decimal> | undefined;
  for (const ins of program.code) {
    const column = ins.column;
    state.column = column;
    switch (ins.op) {
      case Op.Num:
        meter.charge(cost.literal + ins.text.length * cost.perChar, column, 'the number');
        stack.push(parseLiteral(ctx, ins.text, column));
        break;
      case Op.Var: {
        read ??= new Map();
        let x = read.get(ins.text);
        if (x === undefined) {
          x = variable(ctx, meter, vars, ins.text, column);
          read.set(ins.text, x);
        } else {
          meter.charge(cost.node, column, 'the variable');
        }
        stack.push(x);
        break;
      }
      case Op.Const:
        meter.charge(cost.node, column, ins.text);
        stack.push((CONSTANTS.get(ins.text) as (ctx: CalcContext) => Decimal)(ctx));
        break;
      case Op.Neg:
        meter.charge(cost.node, column, 'the minus sign');
        stack.push((stack.pop() as Decimal).neg());
        break;
      case Op.Call: {
        const args = stack.splice(stack.length - ins.argc, ins.argc);
        stack.push((ins.fn as FunctionSpec).apply(ctx, meter, args, column));
        break;
      }
      default: {
        const b = stack.pop() as Decimal;
        const a = stack.pop() as Decimal;
        stack.push(binary(ins.op, ctx, meter, a, b, column));
      }
    }
  }
  return stack[0] as Decimal;
}

function binary(op: Op, ctx: CalcContext, meter: Meter, a: Decimal, b: Decimal, column: number): Decimal {
  switch (op) {
    case Op.Add:
      return add(ctx, meter, a, b, column);
    case Op.Sub:
      return subtract(ctx, meter, a, b, column);
    case Op.Mul:
      return multiply(ctx, meter, a, b, column);
    case Op.Div:
      return divide(ctx, meter, a, b, column);
    case Op.Mod:
      return modulo(ctx, meter, a, b, column);
    default:
      return power(ctx, meter, a, b, column);
  }
}

function variable(
  ctx: CalcContext,
  meter: Meter,
  vars: ReadonlyMap<string, string>,
  name: string,
  column: number,
): Decimal {
  const raw = vars.get(name);
  if (raw === undefined) throw unknownVariable(name, column, vars);
  meter.charge(ctx.cost.literal + raw.length * ctx.cost.perChar, column, 'the variable');
  if (raw.length > MAX_VALUE_LENGTH || !NUMBER.test(raw)) {
    const shown = raw.length > 24 ? `${raw.slice(0, 24)}…` : raw;
    const detail = `variable ${quoteName(name)} holds '${shown}', not a number`;
    throw calcError('CALC_DOMAIN', 'domain error', column, detail, { name: name.slice(0, 32) });
  }
  return parseLiteral(ctx, raw, column);
}

function unknownVariable(name: string, column: number, vars: ReadonlyMap<string, string>): NexoError {
  let detail: string | undefined;
  let suggestion: string | undefined;
  if (name === 'ans') {
    detail = 'there is no previous result yet';
  } else {
    // Sessions hold few variables; the cap keeps a pathological map from slowing the error path.
    suggestion = suggest(name, vars.size <= 1000 ? [...CONSTANTS.keys(), ...vars.keys()] : CONSTANTS.keys());
    if (suggestion !== undefined) detail = `did you mean ${suggestion}?`;
  }
  return calcError('CALC_UNKNOWN_VARIABLE', `unknown variable ${quoteName(name)}`, column, detail, {
    name: name.slice(0, 32),
    ...(suggestion === undefined ? {} : { suggestion }),
  });
}
