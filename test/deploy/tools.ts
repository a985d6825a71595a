import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const INSTALL = path.join(REPO, 'deploy/install.sh');

/** Where a program is, or undefined; a missing one is a skip with a reason, and a failure under CI=true. */
export function program(name: string, candidates: string[] = []): string | undefined {
  for (const c of candidates) {
    if (spawnSync(c, ['--version'], { stdio: 'ignore' }).error === undefined) return c;
  }
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  const reason = `${name} not installed (Debian package: ${name === 'nats-server' ? 'nats-server' : name})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip deploy tests`);
  console.warn(`skipping: ${reason}`);
  return undefined;
}

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
