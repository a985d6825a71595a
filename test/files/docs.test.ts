import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/node.js';
import { renderExample } from '../protocol/examples.js';
import { FILES_EXAMPLE } from './examples.js';

const protocol = readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8');

describe('docs/protocol.md §9 files', () => {
  it('shows the upload example exactly as the encoder produces it', () => {
    const block = /<!-- files-example:begin -->\n```\n([\s\S]*?)\n?```\n<!-- files-example:end -->/.exec(
      protocol,
    );
    expect(block).not.toBeNull();
    expect(block![1]).toBe(renderExample(FILES_EXAMPLE));
  });
});
