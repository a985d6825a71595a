/**
 * Query-string values of REST routes, turned into method args. Each helper names the parameter in its error
 * (INVALID_ARGS, 400), so `?from=yesterday` gets a message that says what would have worked.
 */
import { NexoError } from '../errors.js';
import { clip } from '../util/clip.js';
import { parseDuration } from '../util/units.js';

/** A parameter as fastify's query parser gives it: absent, once, or repeated. */
export type QueryValue = string | string[] | undefined;

/** The one value of a parameter that may be given at most once. */
export function single(name: string, value: QueryValue): string | undefined {
  if (Array.isArray(value)) throw new NexoError('INVALID_ARGS', `give ${name} once`, { param: name });
  return value;
}

/** Every value of a repeatable parameter; commas separate values too (`metric=a,b`). */
export function list(value: QueryValue): string[] {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values.flatMap((v) => v.split(',')).filter((v) => v !== '');
}

/** A whole number in [min, max]. */
export function integer(
  name: string,
  value: QueryValue,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const text = single(name, value);
  if (text === undefined || text === '') return undefined;
  const n = /^-?\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new NexoError(
      'INVALID_ARGS',
      `${name} must be a whole number from ${min} to ${max}; got '${clip(text, 40)}'`,
      {
        param: name,
      },
    );
  }
  return n;
}

/**
 * A point in time: milliseconds since 1970 (`1767225600000`), an ISO 8601 date (`2026-05-01T10:00:00Z`), or
 * a duration ago (`1h`, `30m`, `7d`; a leading `-` is allowed: `-1h`). Like `nexo readings --since`.
 */
export function time(name: string, value: QueryValue, now = Date.now()): number | undefined {
  const text = single(name, value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d{1,16}$/.test(text)) return Number(text);
  const ago = /^-?(\d+(?:\.\d+)?\s*[a-zA-Z]+)$/.exec(text);
  if (ago !== null) {
    try {
      return Math.max(0, now - parseDuration(ago[1]!));
    } catch {
      // not a duration: maybe a date
    }
  }
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isFinite(date) && date >= 0) return date;
  throw new NexoError(
    'INVALID_ARGS',
    `${name}: expected ms since 1970, an ISO date (2026-05-01T10:00:00Z) or a duration ago (1h, 30m, 7d); got '${clip(text, 40)}'`,
    { param: name },
  );
}

/** A duration: milliseconds or a number with a unit (`500ms`, `1m`, `1h`). */
export function duration(name: string, value: QueryValue): number | undefined {
  const text = single(name, value)?.trim();
  if (text === undefined || text === '') return undefined;
  try {
    const ms = parseDuration(/^\d+$/.test(text) ? Number(text) : text);
    if (ms >= 1) return ms;
  } catch {
    // reported below
  }
  throw new NexoError(
    'INVALID_ARGS',
    `${name}: expected a duration such as 1m, 15m, 1h or ms; got '${clip(text, 40)}'`,
    {
      param: name,
    },
  );
}
