import type { ErrorPayload } from '../../errors.js';
import type { Requester, RequestOptions } from './requester.js';

export interface CalcValue {
  value: string;
  /** Set when the expression was an assignment (`x = 3`). */
  assigned?: string;
}

export type CalcBatchItem = CalcValue | { error: ErrorPayload };

/** Typed calls of the calc service (docs/calc.md). */
export function calcApi(r: Requester) {
  return {
    eval: (expr: string, options?: RequestOptions) => r.request<CalcValue>('calc', 'eval', { expr }, options),
    batch: (exprs: string[], options?: RequestOptions) =>
      r.request<{ results: CalcBatchItem[] }>('calc', 'batch', { exprs }, options),
    vars: (options?: RequestOptions) =>
      r.request<{ vars: Record<string, string> }>('calc', 'vars', null, options),
    clear: (options?: RequestOptions) => r.request<{ cleared: number }>('calc', 'clear', null, options),
  };
}
