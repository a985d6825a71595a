import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { SERVER_SETTINGS, serverOptionsFrom } from '../../src/cli/server-settings.js';
import { ServerOptionsSchema } from '../../src/options/options.js';
import { ROOT } from '../helpers/node.js';

const doc = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');

function keys(schema: TSchema, prefix = ''): string[] {
  return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([k, v]) =>
    v.type === 'object' && v.properties && k !== 'tokens' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

describe('docs/configuration.md', () => {
  it('documents every config key', () => {
    for (const key of keys(ServerOptionsSchema)) expect(doc, key).toContain(`| \`${key}\` |`);
  });

  it('documents only keys the options module has, each with the flag and variable the CLI reads', () => {
    const known = new Set(keys(ServerOptionsSchema));
    const rows = [...doc.matchAll(/^\| `([a-zA-Z.]+)` \| ([^|]*) \| ([^|]*) \|/gm)];
    expect(rows.length).toBeGreaterThan(60);
    for (const [, key, flagCell, envCell] of rows) {
      expect(known.has(key!), `${key} is not an option`).toBe(true);
      const setting = SERVER_SETTINGS.find((s) => s.path === key);
      if (setting === undefined) continue; // config file only (agent.host) or a flag of its own (--token)
      expect(flagCell, key).toContain(`\`${setting.flag.split(' ')[0]}\``);
      expect(envCell, key).toContain(`\`${setting.env}\``);
    }
  });

  it('gives each default the code uses (a literal default given as the flag changes nothing)', () => {
    // The whole resolved options are compared: resolving renames and converts (`handshakeTimeout: "10s"` is
    // `handshakeTimeoutMs: 10000`).
    const base = JSON.stringify(serverOptionsFrom({}, {}).options);
    let checked = 0;
    const wrong: string[] = [];
    for (const [, key, def] of doc.matchAll(/^\| `([a-zA-Z.]+)` \| [^|]* \| [^|]* \| ([^|]*) \|/gm)) {
      // Only a single literal (`10s`, `1MiB`, `anyone`), perhaps with a note: not `<hostname>:<port>`, `host`.
      const literal = /^`([^`<]+)`( \([^)]*\))?$/.exec(def!.trim())?.[1];
      const setting = SERVER_SETTINGS.find((s) => s.path === key);
      if (literal === undefined || setting === undefined || setting.flag.startsWith('--no-')) continue;
      if (key === 'agent.port') continue; // documented: giving it turns the agent on in embedded mode
      if (keys(ServerOptionsSchema).includes(literal)) continue; // "the value of `host`"
      const attr = setting.flag
        .split(' ')[0]!
        .slice(2)
        .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      const given = JSON.stringify(serverOptionsFrom({ [attr]: literal }, {}).options);
      if (given !== base) wrong.push(`${key}: documented default ${literal}`);
      checked++;
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it('documents every flag and environment variable of nexo server', () => {
    for (const s of SERVER_SETTINGS) {
      expect(doc, s.flag).toContain(`\`${s.flag.split(' ')[0]}\``);
      expect(doc, s.env).toContain(`\`${s.env}\``);
    }
  });
});

describe('nexo server --help', () => {
  it('offers every flag that docs/configuration.md documents', async () => {
    const { execFileSync } = await import('node:child_process');
    const { CLI } = await import('../helpers/node.js');
    const help = execFileSync(process.execPath, [CLI, 'server', '--help'], { encoding: 'utf8' });
    const documented = [...doc.matchAll(/\| `[a-zA-Z.]+` \| `(--[a-z-]+)/g)].map((m) => m[1]!);
    expect(documented.length).toBeGreaterThan(15);
    for (const flag of documented) expect(help, flag).toContain(flag);
  });
});
