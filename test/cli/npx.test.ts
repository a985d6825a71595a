/**
 * `npx nexo` in the checkout, as the README's quick start runs it. The first one used to take ~7 s (later
 * ones 0.8 s): npx installs the checkout into its cache as a link, and installing a directory runs its
 * `prepare` script, which was the whole build (tsc and Vite, 6.6 s of `build:run:prepare` in npm's timing
 * log), rewriting dist/ under a running node. scripts/prepare.mjs skips the build under `npm exec`.
 * Each run gets an empty npm cache, so it is always the first, and never touches the user's ~/.npm.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/node.js';

const cache = mkdtempSync(path.join(os.tmpdir(), 'nexo-npx-cache-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

function npx(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['--offline', ...args],
      {
        cwd: ROOT,
        timeout: 60_000,
        env: {
          ...process.env,
          npm_config_cache: cache,
          npm_config_update_notifier: 'false',
          NEXO_SERVER: '',
        },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

/** What a build would change: the CLI's compiled entry point and the dashboard's page. */
function built(): Record<string, number> {
  const files = ['dist/cli/main.js', 'dist/web/index.html'];
  return Object.fromEntries(files.map((f) => [f, statSync(path.join(ROOT, f)).mtimeMs]));
}

describe('npx nexo in the checkout', () => {
  it('the first run does not rebuild the project, and answers like the later ones', async () => {
    const before = built();
    const first = await npx(['nexo', '--version']);
    expect(first, first.stderr).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    expect(built(), 'npx ran the build (package.json prepare)').toEqual(before);
    const second = await npx(['nexo', '--version']);
    expect(second.code).toBe(0);
    console.log(`npx nexo --version: first ${first.ms.toFixed(0)} ms, second ${second.ms.toFixed(0)} ms`);
  });
});
