import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const INSTALL = path.join(REPO, 'deploy/install.sh');

export interface DryRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The directory that stands for / in the dry run. */
  readonly root: string;
}

/** Runs deploy/install.sh with DRY_RUN=1: commands printed, files written under a fresh ROOT. */
export function dryRun(env: Record<string, string>): DryRun {
  const root = mkdtempSync(path.join(tmpdir(), 'nexo-install-'));
  const r = spawnSync('bash', [INSTALL], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, DRY_RUN: '1', ROOT: root, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, root };
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
}
