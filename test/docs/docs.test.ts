import { readFileSync } from 'node:fs';
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
