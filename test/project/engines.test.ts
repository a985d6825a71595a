/**
 * The Node.js versions nexo says it runs on (package.json `engines`, the README's quick start) must be the
 * ones its installed dependencies accept: once `engines` said >=20.15 while vite 8 and rolldown, which
 * `npm install` runs through `prepare`, need ^20.19 || >=22.12. Every package.json under node_modules is read
 * (nested copies too), so a dependency that raises its floor fails this test on the next install.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/node.js';

interface Manifest {
  name: string;
  version: string;
  engines?: { node?: string };
}

/**
 * Packages whose `engines.node` is stricter than what they need, each with why it is harmless here. npm
 * prints `EBADENGINE` for them on Node 20 (a warning; nexo never sets engine-strict). The test below proves
 * each reason still holds: the package is still installed, and what nexo's dependencies use of it runs on
 * this Node.
 */
const OVERSTATED: Record<string, { why: string; works: (required: (id: string) => unknown) => void }> = {
  cookie: {
    why: "cookie@2 declares node >=22 as its support policy, but its code is plain ES2020 with no Node API; only light-my-request (fastify's inject(), which nexo never calls) requires it",
    works: (required) => {
      const cookie = required('cookie') as {
        stringifySetCookie(c: { name: string; value: string; httpOnly?: boolean }): string;
        parseCookie(header: string): Record<string, string>;
      };
      expect(cookie.stringifySetCookie({ name: 'a', value: 'b c', httpOnly: true })).toBe(
        'a=b%20c; HttpOnly',
      );
      expect(cookie.parseCookie('a=1; b=x%20y')).toEqual({ a: '1', b: 'x y' });
    },
  },
};

function manifests(dir: string, found: { manifest: Manifest; dir: string }[] = [], depth = 0) {
  if (depth > 12 || !existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const at = path.join(dir, entry);
    if (entry.startsWith('@')) {
      manifests(at, found, depth);
      continue;
    }
    const file = path.join(at, 'package.json');
    if (!existsSync(file)) continue;
    found.push({ manifest: JSON.parse(readFileSync(file, 'utf8')) as Manifest, dir: at });
    manifests(path.join(at, 'node_modules'), found, depth + 1);
  }
  return found;
}

const ours = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
const installed = manifests(path.join(ROOT, 'node_modules'));

/**
 * The lowest version of Node's line `major` (or a later line) a range accepts, if any. Each `||` alternative
 * is asked alone: semver.minVersion() of a whole range returns null when one alternative is empty after
 * the `>=major` bound is added (`^20.19.0 >=22.0.0`), even if another is not.
 */
function floorFrom(range: string, major: number): string | null {
  let lowest: semver.SemVer | null = null;
  for (const set of new semver.Range(range).set) {
    const floor = semver.minVersion(`${set.map((c) => c.value).join(' ')} >=${major}.0.0`);
    if (floor !== null && (lowest === null || semver.lt(floor, lowest))) lowest = floor;
  }
  return lowest?.version ?? null;
}

/** The release lines (majors) our range opens: 20, 22, 24 for `^20.19.0 || ^22.12.0 || ^24.0.0`. */
function lines(range: string): number[] {
  return new semver.Range(range).set.map(
    (set) => semver.minVersion(set.map((c) => c.value).join(' '))!.major,
  );
}

describe('the Node.js versions nexo states', () => {
  it('package.json engines.node is accepted by every installed package, and is no wider than they are', () => {
    const range = ours.engines!.node!;
    expect(installed.length).toBeGreaterThan(100);
    const refusing = installed
      .filter(({ manifest }) => manifest.engines?.node !== undefined && !(manifest.name in OVERSTATED))
      .filter(({ manifest }) => !semver.subset(range, manifest.engines!.node!, { includePrerelease: false }))
      .map(({ manifest }) => `${manifest.name}@${manifest.version} needs node ${manifest.engines!.node}`);
    expect(refusing, `engines.node ${range} includes versions these refuse`).toEqual([]);
  });

  it('its minimum on each release line it opens is the highest minimum in the dependency tree there', () => {
    const range = ours.engines!.node!;
    expect(lines(range)).toContain(20);
    for (const major of lines(range)) {
      let highest = `${major}.0.0`;
      let by = 'nothing';
      for (const { manifest } of installed) {
        const theirs = manifest.engines?.node;
        if (theirs === undefined || manifest.name in OVERSTATED) continue;
        const floor = floorFrom(theirs, major);
        if (floor !== null && semver.gt(floor, highest)) {
          highest = floor;
          by = `${manifest.name}@${manifest.version} (${theirs})`;
        }
      }
      expect(floorFrom(range, major), `on Node ${major} the real minimum is ${highest}, set by ${by}`).toBe(
        highest,
      );
    }
    expect(semver.satisfies(process.version, range), `this Node ${process.version} is outside ${range}`).toBe(
      true,
    );
  });

  it('the README says the same minimum and names the range', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const floor = semver.minVersion(ours.engines!.node!)!;
    expect(readme).toContain(`Node.js ${floor.major}.${floor.minor} or later`);
    expect(readme).toContain(`\`${ours.engines!.node}\``);
  });

  it('each package that overstates its engines is still installed, explained, and works on this Node', () => {
    const required = createRequire(path.join(ROOT, 'node_modules', 'light-my-request', 'index.js'));
    for (const [name, { why, works }] of Object.entries(OVERSTATED)) {
      const copies = installed.filter(({ manifest }) => manifest.name === name);
      expect(copies.length, `${name} is no longer installed: remove it from OVERSTATED`).toBeGreaterThan(0);
      expect(why.length).toBeGreaterThan(40);
      works(required);
    }
  });
});
