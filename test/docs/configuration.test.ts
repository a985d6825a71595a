import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { SERVER_SETTINGS } from '../../src/cli/server-settings.js';
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
