import type { ErrorPayload } from '../errors.js';
import type { RequestOptions } from './client.js';

/** What the typed facades need from a client. */
export interface Requester {
  request<R = unknown>(service: string, method: string, args?: unknown, options?: RequestOptions): Promise<R>;
}

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

export type GreetLanguage = 'es' | 'pt' | 'en' | 'fr' | 'de' | 'it';

/** Typed calls of the greet service. */
export function greetApi(r: Requester) {
  return {
    hello: (names: string[], lang?: GreetLanguage, options?: RequestOptions) =>
      r.request<{ lang: GreetLanguage; node: string; greetings: string[] }>(
        'greet',
        'hello',
        lang === undefined ? { names } : { names, lang },
        options,
      ),
    languages: (options?: RequestOptions) =>
      r.request<{ default: GreetLanguage; languages: { code: GreetLanguage; name: string }[] }>(
        'greet',
        'languages',
        null,
        options,
      ),
  };
}

/** Typed calls of the echo service. */
export function echoApi(r: Requester) {
  return {
    echo: <T>(value: T, options?: RequestOptions) => r.request<T>('echo', 'echo', value, options),
  };
}
