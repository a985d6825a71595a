import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Rehearsal,
  rehearsalMissing,
  rehearse,
  sensorsThroughHaproxy,
} from '../../rehearsal/rehearse.js';
import { topology } from '../../rehearsal/topology.js';
import { parseAssignments, parseEnvFile } from '../../rehearsal/units.js';
import { browserAvailable, launchBrowser } from '../helpers/browser.js';

/**
 * `npm run rehearse` as CI runs it: the template's seven machines on network namespaces, configured by
 * install.sh and started from the systemd units; both sensors' readings must reach the dashboard through
 * HAProxy, and the dashboard in a real browser (from the root namespace, over the rehearsal's router) must
 * list both. Everything is removed after, also when a check fails.
 */
const missing = rehearsalMissing();
if (missing !== undefined) {
  if (process.env.CI === 'true') throw new Error(`the rehearsal cannot run under CI: ${missing}`);
  console.warn(`skipping the rehearsal: ${missing}`);
}

describe('rehearsal pieces', () => {
  it('reads environment files and Environment= lines as systemd does', () => {
    expect(parseEnvFile('# c\nA=1\nB="two words"\n\n; x\nC=\n')).toEqual({ A: '1', B: 'two words', C: '' });
    // systemd skips a line with no '=' (test/deploy/unit-parser.test.ts has the rest)
    const warnings: string[] = [];
    expect(parseEnvFile('nonsense\nA=1', 'f.env', warnings)).toEqual({ A: '1' });
    expect(warnings).toEqual(["f.env:1: missing '=', ignoring line"]);
    expect(parseAssignments('"CONFIG=/etc/haproxy/haproxy.cfg" "EXTRAOPTS=-S /run/x.sock" N=1')).toEqual({
      CONFIG: '/etc/haproxy/haproxy.cfg',
      EXTRAOPTS: '-S /run/x.sock',
      N: '1',
    });
  });

  it('has the template’s machines, roles and addresses (10.0. → 10.241.)', () => {
    const hosts = topology(20_000);
    expect(hosts.map((h) => [h.name, h.ip, h.vars.ROLE])).toEqual([
      ['pg', '10.241.1.20', 'postgres'],
      ['node1', '10.241.1.11', 'nats,node'],
      ['node2', '10.241.1.12', 'nats,node'],
      ['node3', '10.241.1.13', 'nats,node'],
      ['haproxy', '10.241.1.10', 'haproxy'],
      ['sensor1', '10.241.2.21', 'sensor'],
      ['sensor2', '10.241.2.22', 'sensor'],
    ]);
    expect(hosts.find((h) => h.name === 'haproxy')!.vars.HAPROXY_MAXCONN).toBe('9900');
    expect(topology().find((h) => h.name === 'haproxy')!.vars.HAPROXY_MAXCONN).toBe('20000');
  });
});

describe.skipIf(missing)('npm run rehearse', () => {
  let r: Rehearsal | undefined;

  beforeAll(async () => {
    r = await rehearse(() => {});
  }, 180_000);
  afterAll(() => r?.close());

  it('both sensors report through HAProxy, and the dashboard through HAProxy lists them', async () => {
    const seen = await sensorsThroughHaproxy(r!, ['s1', 's2'], 90_000);
    expect(seen).toEqual(expect.arrayContaining(['s1', 's2']));
    if (!browserAvailable()) {
      if (process.env.CI === 'true') throw new Error('no Chromium (Debian chromium) under CI');
      console.warn('rehearsal: no Chromium, the dashboard page is not opened');
      return;
    }
    const { browser, close } = await launchBrowser();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${r!.dashboard}#/sensors`);
      await expect
        .poll(async () => (await page.textContent('main')) ?? '', { timeout: 20_000 })
        .toMatch(/s1[\s\S]*s2|s2[\s\S]*s1/);
    } finally {
      await close();
    }
  }, 150_000);
});
