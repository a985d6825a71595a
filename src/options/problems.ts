import type { TSchema } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';

export class OptionsError extends Error {
  override readonly name = 'OptionsError';
  constructor(readonly problems: string[]) {
    super(`invalid server options:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Lists every problem in `input` against `schema` as `path: message (got value)`. */
export function describeProblems(schema: TSchema, input: unknown): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, input)) {
    const path = error.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
    if (seen.has(path)) continue; // a union reports once per branch; the first message is enough
    seen.add(path);
    const got = error.value === undefined ? '' : ` (got ${JSON.stringify(error.value)?.slice(0, 60)})`;
    const message =
      error.type === ValueErrorType.ObjectAdditionalProperties
        ? 'unknown option'
        : error.message.toLowerCase();
    problems.push(`${path}: ${message}${got}`);
  }
  return problems;
}

/** Parses a duration or size setting; what does not parse is noted as a problem at `path` and read as 0. */
export type UnitReader = (
  path: string,
  parse: (v: number | string) => number,
  value: number | string,
) => number;

export function unitReader(problems: string[]): UnitReader {
  return (path, parse, value) => {
    try {
      return parse(value);
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
      return 0;
    }
  };
}
