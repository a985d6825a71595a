import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { program } from '../helpers/programs.js';
import { REPO, sh } from './tools.js';

const UNITS = path.join(REPO, 'deploy/systemd');
const dir = mkdtempSync(path.join(tmpdir(), 'nexo-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deploy/systemd units', () => {
  it('systemd-analyze verify accepts them (no unknown keys, executables exist)', () => {
    const analyze = program('systemd-analyze');
    if (analyze === undefined) return;
    // a template is verified as an instance of it
    const files = ['nexo.service', 'nexo-nats.service', 'nexo-sensor@s1.service'].map((name) => {
      const to = path.join(dir, name);
      copyFileSync(path.join(UNITS, name.replace('@s1', '@')), to);
      return to;
    });
    const r = spawnSync(analyze, ['verify', ...files], { encoding: 'utf8', timeout: 20_000 });
    // warnings (an unknown key, a bad value) go to stderr with status 0: both must be clean
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('the sensor unit passes only flags `nexo sensor` has, and its env names the unit documents', () => {
    const unit = readFileSync(path.join(UNITS, 'nexo-sensor@.service'), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    expect(exec).toContain('/opt/nexo/dist/cli/main.js sensor');
    const help = sh('node', [path.join(REPO, 'dist/cli/main.js'), 'sensor', '--help']);
    const flags = exec.match(/--[a-z-]+/g) ?? [];
    expect(flags.length).toBeGreaterThanOrEqual(4);
    for (const flag of flags) expect(help, flag).toContain(flag);
    for (const v of exec.match(/\$\{?([A-Z_]+)/g) ?? [])
      expect(unit.split('ExecStart')[0]).toContain(v.replace(/[${]/g, ''));
  });

  it('the node unit runs `nexo server`, stops by SIGTERM (drain) and waits longer than the drain', () => {
    const unit = readFileSync(path.join(UNITS, 'nexo.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/nexo\/dist\/cli\/main\.js server$/m);
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/nexo\/nexo\.env$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]);
    expect(stop).toBeGreaterThan(10); // --shutdown-timeout default 10s
  });
});
