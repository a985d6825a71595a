import { describe, expect, it } from 'vitest';
import { serverOptionsFrom } from '../../src/cli/server-settings.js';
import { OptionsError, resolveOptions } from '../../src/options/options.js';
import { redactUrl } from '../../src/util/redact-url.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof OptionsError) return err.problems;
    throw err;
  }
  throw new Error('expected an OptionsError');
}

describe('storage settings', () => {
  it('default to embedded, no engines, cluster "nexo"', () => {
    const o = resolveOptions({});
    expect({ storage: o.storage, postgres: o.postgres, nats: o.nats, cluster: o.cluster }).toEqual({
      storage: 'embedded',
      postgres: undefined,
      nats: [],
      cluster: 'nexo',
    });
  });

  it('come from flags and environment; NATS URLs comma-separated', () => {
    const { options } = serverOptionsFrom(
      { storage: 'postgres', nats: 'nats://a:4222, nats://b:4222' },
      {
        NEXO_POSTGRES: 'postgres://nexo@db:5432/nexo',
        NEXO_CLUSTER: 'prod-eu_1',
        NEXO_NATS: 'nats://ignored:1',
      },
    );
    expect(options).toMatchObject({
      storage: 'postgres',
      postgres: 'postgres://nexo@db:5432/nexo',
      nats: ['nats://a:4222', 'nats://b:4222'],
      cluster: 'prod-eu_1',
    });
    const env = serverOptionsFrom(
      {},
      { NEXO_STORAGE: 'postgres', NEXO_POSTGRES: 'postgresql://h/db', NEXO_NATS: 'nats://n:4222' },
    );
    expect(env.options.nats).toEqual(['nats://n:4222']);
  });

  it('accept an array of NATS URLs in the config file', () => {
    const o = resolveOptions({
      storage: 'postgres',
      postgres: 'postgres://h/d',
      nats: ['nats://a', 'b:4222'],
    });
    expect(o.nats).toEqual(['nats://a', 'b:4222']);
  });

  it('postgres mode needs both engines, and says how to give them', () => {
    expect(problems(() => serverOptionsFrom({ storage: 'postgres' }, {}))).toEqual([
      'postgres: storage is postgres but no PostgreSQL URL is set (--postgres URL or NEXO_POSTGRES)',
      'nats: storage is postgres but no NATS server is set (--nats URL[,URL] or NEXO_NATS); the nodes of a cluster talk through it',
    ]);
    expect(
      problems(() => serverOptionsFrom({ storage: 'postgres', postgres: 'postgres://h/d' }, {})),
    ).toHaveLength(1);
  });

  it('engines given in embedded mode are an error, not silently ignored', () => {
    expect(problems(() => serverOptionsFrom({ postgres: 'postgres://h/d' }, {}))).toEqual([
      'postgres: a PostgreSQL URL is set but storage is embedded; add --storage postgres [from flag --postgres]',
    ]);
    expect(problems(() => resolveOptions({ nats: 'nats://h:4222' }))[0]).toMatch(/add --storage postgres/);
  });

  it('refuse malformed and hostile values, naming the source and hiding passwords', () => {
    expect(problems(() => serverOptionsFrom({ storage: 'sqlite' }, {}))[0]).toMatch(
      /^storage: .*\(got "sqlite"\) \[from flag --storage\]$/,
    );
    const bad = problems(() =>
      serverOptionsFrom(
        { storage: 'postgres', nats: 'nats://a:4222' },
        { NEXO_POSTGRES: 'mysql://u:hunter2@h/d' },
      ),
    );
    expect(bad).toEqual([
      'postgres: expected a URL such as postgres://user@127.0.0.1:5432/nexo (got "mysql://u:***@h/d") [from env NEXO_POSTGRES]',
    ]);
    expect(bad.join()).not.toContain('hunter2');
    expect(
      problems(() =>
        resolveOptions({ storage: 'postgres', postgres: 'postgres://h/d', nats: 'nats://a b' }),
      )[0],
    ).toMatch(/^nats: expected server URLs/);
    expect(problems(() => resolveOptions({ cluster: 'a.b' }))[0]).toMatch(
      /^cluster: expected 1 to 32 letters/,
    );
    expect(problems(() => resolveOptions({ cluster: '*' }))[0]).toMatch(/^cluster:/);
    expect(problems(() => resolveOptions({ cluster: 'x'.repeat(33) }))[0]).toMatch(/^cluster:/);
    expect(problems(() => resolveOptions({ postgres: 'p'.repeat(5000) }))[0]).toMatch(/^postgres: /);
    expect(problems(() => resolveOptions({ nats: Array.from({ length: 33 }, () => 'nats://a') }))[0]).toMatch(
      /^nats: /,
    );
  });

  it('redactUrl hides only the password', () => {
    expect(redactUrl('postgres://u:p%40ss@h:5432/d?x=1')).toBe('postgres://u:***@h:5432/d?x=1');
    expect(redactUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
    expect(redactUrl('nats://h:4222')).toBe('nats://h:4222');
    expect(redactUrl('nats://tok:@h:4222')).toBe('nats://tok:***@h:4222');
  });
});
