/**
 * biome.json must load without any diagnostic: Biome reports a deprecated or unknown configuration field
 * only as an "info" that `npm run lint` passes over (it warned that `linter.rules.recommended` is
 * deprecated, replaced by `preset`). Any file is enough to make Biome read its configuration.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/node.js';

const exec = promisify(execFile);

interface Report {
  summary: { errors: number; warnings: number; infos: number };
  diagnostics: { category: string; message: string }[];
}

describe('biome.json', () => {
  it('loads without deprecation or any other diagnostic', async () => {
    const biome = path.join(ROOT, 'node_modules/.bin/biome');
    const { stdout } = await exec(biome, ['check', '--reporter=json', 'biome.json'], { cwd: ROOT }).catch(
      (error: { stdout: string }) => error,
    );
    const report = JSON.parse(stdout) as Report;
    expect(report.diagnostics.map((d) => `${d.category}: ${d.message}`)).toEqual([]);
    expect(report.summary).toMatchObject({ errors: 0, warnings: 0, infos: 0 });
  });
});
