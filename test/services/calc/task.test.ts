import { describe, expect, it } from 'vitest';
import { DEFAULT_CALC_LIMITS } from '../../../src/services/calc/engine.js';
import calcTask, { type CalcTask } from '../../../src/services/calc/task.js';

const task = (expr: string, vars: [string, string][] = []): CalcTask => ({
  expr,
  vars,
  limits: { ...DEFAULT_CALC_LIMITS },
});

describe('calcTask', () => {
  it('returns the value', () => {
    expect(calcTask(task('ans * 2', [['ans', '21']]))).toEqual({ ok: true, value: '42' });
  });

  it('returns the assigned name', () => {
    expect(calcTask(task('x = 0.1 + 0.2'))).toEqual({ ok: true, value: '0.3', assigned: 'x' });
  });

  it('runs what inline evaluation defers', () => {
    // Checked against a 120-digit Taylor series in Python's decimal module.
    expect(calcTask(task('tan(1/3)'))).toEqual({
      ok: true,
      value: '0.3462535495105754910385435656097407745957039161898002179764440649',
    });
  });

  it('returns errors as code, message and details', () => {
    expect(calcTask(task('sqrt(1, 2'))).toEqual({
      ok: false,
      error: {
        code: 'CALC_SYNTAX',
        message: "syntax error at column 10: expected ')' to close '(' at column 5",
        details: { column: 10, openColumn: 5 },
      },
    });
    expect(calcTask(task('1e999999 % 7'))).toMatchObject({ ok: false, error: { code: 'CALC_TOO_COMPLEX' } });
    expect(calcTask(task('nope'))).toMatchObject({ ok: false, error: { code: 'CALC_UNKNOWN_VARIABLE' } });
  });

  it('produces structured-clone friendly results', () => {
    for (const expr of ['1+1', 'y = 2', '1/0', '(']) {
      const result = calcTask(task(expr));
      expect(structuredClone(result)).toEqual(result);
    }
  });

  it('never throws, even for a malformed task', () => {
    const broken = { expr: '1', vars: [], limits: undefined } as unknown as CalcTask;
    expect(calcTask(broken)).toMatchObject({ ok: false, error: { code: 'INTERNAL_ERROR' } });
    const notText = { expr: 42, vars: [], limits: DEFAULT_CALC_LIMITS } as unknown as CalcTask;
    expect(calcTask(notText).ok).toBe(false);
  });
});
