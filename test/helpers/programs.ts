import { spawnSync } from 'node:child_process';

/**
 * Where a program is, or undefined; a missing one is a skip with a printed reason, and a failure under
 * CI=true (CI must never skip). `candidates` are tried first (absolute paths outside PATH, e.g. /usr/sbin).
 */
export function program(name: string, candidates: string[] = [], debianPackage = name): string | undefined {
  for (const c of candidates) {
    if (spawnSync(c, ['--version'], { stdio: 'ignore' }).error === undefined) return c;
  }
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  const reason = `${name} not installed (Debian package: ${debianPackage})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip these tests`);
  console.warn(`skipping: ${reason}`);
  return undefined;
}
