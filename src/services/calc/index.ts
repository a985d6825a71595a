import { Type } from '@sinclair/typebox';
import { defineMethod, type ServiceDefinition, type ServiceHost } from '../../contract/service.js';
import type { Session } from '../../contract/session.js';
import { type ErrorPayload, NexoError, toNexoError } from '../../errors.js';
import {
  type CalcLimits,
  type CalcResult,
  calculate,
  checkCalcLimits,
  DEFAULT_CALC_LIMITS,
  NeedsWorker,
  warmUpEngine,
} from './engine.js';
import type { CalcTask, CalcTaskResult } from './task.js';

/** The previous result of the session, readable as a variable (docs/calc.md). */
const ANS = 'ans';

/**
 * `calc`: exact decimal arithmetic (docs/calc.md). Cheap expressions are evaluated right on the event
 * loop; the engine refuses inline anything it estimates as costly (NeedsWorker), and that expression runs in
 * the worker pool under a time and memory limit, so a hostile input never stalls other clients.
 */
export function calcService(host: ServiceHost): ServiceDefinition {
  const o = host.options.calc;
  const limits: CalcLimits = { ...DEFAULT_CALC_LIMITS, precision: o.precision, maxLength: o.maxLength };
  checkCalcLimits(limits);
  const variables = new WeakMap<Session, Map<string, string>>();

  const varsOf = (session: Session): Map<string, string> => {
    let vars = variables.get(session);
    if (vars === undefined) {
      vars = new Map();
      variables.set(session, vars);
    }
    return vars;
  };

  const inWorker = async (
    expr: string,
    vars: Map<string, string>,
    signal: AbortSignal,
  ): Promise<CalcResult> => {
    const task: CalcTask = { expr, vars: [...vars], limits };
    let result: CalcTaskResult;
    try {
      result = await host.pool.run<CalcTaskResult>('calc', task, o.timeoutMs, signal);
    } catch (err) {
      const error = toNexoError(err);
      if (error.code === 'TIMEOUT') {
        throw new NexoError(
          'CALC_TIMEOUT',
          `the calculation took longer than ${o.timeoutMs} ms and was stopped`,
        );
      }
      throw error;
    }
    if (!result.ok) throw NexoError.fromPayload(result.error satisfies ErrorPayload);
    return result.assigned === undefined
      ? { value: result.value }
      : { value: result.value, assigned: result.assigned };
  };

  /** Evaluates and records the result in the session (ans, assignments). */
  const evaluate = (
    expr: string,
    session: Session,
    signal: () => AbortSignal,
  ): CalcResult | Promise<CalcResult> => {
    const vars = varsOf(session);
    let result: CalcResult;
    try {
      result = calculate(expr, vars, limits, 'inline');
    } catch (err) {
      if (!(err instanceof NeedsWorker)) throw err;
      return inWorker(expr, vars, signal()).then((r) => remember(r, vars));
    }
    return remember(result, vars);
  };

  const remember = (result: CalcResult, vars: Map<string, string>): CalcResult => {
    if (result.assigned !== undefined && !vars.has(result.assigned)) {
      const named = vars.size - (vars.has(ANS) ? 1 : 0);
      if (named >= o.maxVariables) {
        throw new NexoError(
          'CALC_BAD_ASSIGNMENT',
          `this session already has ${o.maxVariables} variables; reuse one or clear them`,
        );
      }
    }
    if (result.assigned !== undefined) vars.set(result.assigned, result.value);
    vars.set(ANS, result.value);
    return result;
  };

  return {
    name: 'calc',
    description: 'Exact decimal calculator with functions, constants and per-session variables.',
    start: () => warmUpEngine(limits),
    methods: {
      eval: defineMethod({
        description: 'Evaluates one expression or assignment (`x = 2*3`).',
        args: Type.Object({ expr: Type.String() }, { additionalProperties: false }),
        handler: (args, ctx) => evaluate(args.expr, ctx.session, () => ctx.signal),
      }),
      batch: defineMethod({
        description: 'Evaluates many expressions in order; each gets its value or its own error.',
        args: Type.Object(
          { exprs: Type.Array(Type.String(), { minItems: 1, maxItems: o.maxBatch }) },
          { additionalProperties: false },
        ),
        async handler(args, ctx) {
          const results: (CalcResult | { error: ErrorPayload })[] = [];
          for (const expr of args.exprs) {
            if (ctx.signal.aborted) break;
            try {
              results.push(await evaluate(expr, ctx.session, () => ctx.signal));
            } catch (err) {
              results.push({ error: toNexoError(err).toPayload() });
            }
          }
          return { results };
        },
      }),
      vars: defineMethod({
        description: "The session's variables, including ans.",
        args: Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })]),
        handler: (_args, ctx) => ({ vars: Object.fromEntries(varsOf(ctx.session)) }),
      }),
      clear: defineMethod({
        description: "Forgets the session's variables.",
        args: Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })]),
        handler: (_args, ctx) => {
          const vars = varsOf(ctx.session);
          const cleared = vars.size;
          vars.clear();
          return { cleared };
        },
      }),
    },
    text: [
      {
        name: 'calc',
        aliases: ['c', '='],
        usage: 'calc <expression>',
        summary: 'exact arithmetic: calc 2*(3+4), calc x = 0.1+0.2, calc sqrt(x)*2',
        parse: (rest) => {
          if (rest === '') throw new NexoError('INVALID_ARGS', 'usage: calc <expression>, e.g. calc 2*(3+4)');
          return { method: 'eval', args: { expr: rest } };
        },
        format: (result) => {
          const r = result as CalcResult;
          return r.assigned === undefined ? r.value : `${r.assigned} = ${r.value}`;
        },
      },
      {
        name: 'vars',
        usage: 'vars',
        summary: 'list your calc variables',
        parse: () => ({ method: 'vars', args: null }),
        format: (result) => {
          const entries = Object.entries((result as { vars: Record<string, string> }).vars);
          return entries.length === 0 ? '(no variables)' : entries.map(([k, v]) => `${k} = ${v}`);
        },
      },
    ],
  };
}
