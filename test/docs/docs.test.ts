import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors.js';
import { ROOT } from '../helpers/node.js';
import { MEMBERS_EXAMPLE, renderExample } from '../protocol/examples.js';

const protocol = readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8');

describe('docs/protocol.md is the contract', () => {
  it('lists every error code of the registry, and no code the registry lacks', () => {
    const documented = [...protocol.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERRORS).sort());
  });

  it('documents each code with the HTTP status of the registry', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(protocol, code).toMatch(new RegExp(`^\\| \`${code}\` \\| ${spec.status} \\|`, 'm'));
    }
  });

  it('shows the example session exactly as the encoder produces it', () => {
    const block = /<!-- example-session:begin -->\n```\n([\s\S]*?)\n```\n<!-- example-session:end -->/.exec(
      protocol,
    );
    expect(block).not.toBeNull();
    expect(block![1]).toBe(renderExample());
  });

  it('shows node.members exactly as the encoder produces it', () => {
    const block = /<!-- example-members:begin -->\n```\n([\s\S]*?)\n```\n<!-- example-members:end -->/.exec(
      protocol,
    );
    expect(block).not.toBeNull();
    expect(block![1]).toBe(renderExample(MEMBERS_EXAMPLE));
  });
});

describe('nexo_limited_total reasons', () => {
  // The reasons are the LimitReason union of src/server/host.ts (a type: read from its source).
  const host = readFileSync(path.join(ROOT, 'src/server/host.ts'), 'utf8');
  const union = /export type LimitReason =([\s\S]*?');$/m.exec(host)?.[1] ?? '';
  const reasons = [...union.matchAll(/^\s*\| '([a-z_]+)'/gm)].map((m) => m[1]!).sort();
  const docs = ['protocol.md', 'http.md', 'configuration.md'].map((f) => ({
    file: f,
    text: readFileSync(path.join(ROOT, 'docs', f), 'utf8'),
  }));

  it('docs/http.md "Metrics" lists exactly the reasons of the code', () => {
    expect(reasons.length).toBeGreaterThanOrEqual(12);
    const http = docs.find((d) => d.file === 'http.md')!.text;
    const row = /^\| `nexo_limited_total` \| counter \| `reason` \(([a-z_, ]+)\)/m.exec(http);
    expect(row, 'the nexo_limited_total row').not.toBeNull();
    expect(row![1]!.split(/,\s*/).sort()).toEqual(reasons);
  });

  it('every reason the docs name in nexo_limited_total{reason="…"} is one the code counts', () => {
    let named = 0;
    for (const { file, text } of docs) {
      for (const m of text.matchAll(/nexo_limited_total\{reason="([a-z_]+)"\}/g)) {
        named++;
        expect(reasons, `${file}: ${m[1]}`).toContain(m[1]);
      }
    }
    expect(named).toBeGreaterThan(5);
  });

  it('every reason is counted somewhere in src/ (none is documented but dead)', () => {
    const src = path.join(ROOT, 'src');
    const code = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && f !== path.join('server', 'host.ts'))
      .map((f) => readFileSync(path.join(src, f), 'utf8'))
      .join('\n');
    expect(reasons.length).toBeGreaterThanOrEqual(12);
    for (const r of reasons) expect(code, r).toContain(`'${r}'`);
  });
});
