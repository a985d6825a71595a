/**
 * The worker-pool entry of calc: plain data in, plain data out (structured-clone friendly), never throws,
 * so an error crosses the thread boundary with its code and details intact.
 */
import { NexoError } from '../../errors.js';
import { calculate } from './engine.js';
import type { CalcLimits } from './limits.js';

export interface CalcTask {
  expr: string;
  vars: [string, string][];
  limits: CalcLimits;
}

export type CalcTaskResult =
  | { ok: true; value: string; assigned?: string }
  | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };

export default function calcTask(task: CalcTask): CalcTaskResult {
  try {
    const r = calculate(task.expr, new Map(task.vars), task.limits, 'worker');
    return r.assigned === undefined
      ? { ok: true, value: r.value }
      : { ok: true, value: r.value, assigned: r.assigned };
  } catch (err) {
    // calculate throws only CALC_* NexoErrors in worker mode; anything else is a bug worth a plain report.
    const error =
      err instanceof NexoError
        ? err
        : new NexoError(
            'INTERNAL_ERROR',
            `calc task failed: ${err instanceof Error ? err.message : String(err)}`,
          );
    return { ok: false, error: error.toPayload() };
  }
}
