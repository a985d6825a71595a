import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVER_SETTINGS } from '../../src/cli/server-settings.js';
import { program } from '../helpers/programs.js';
import { type DryRun, dryRun, INSTALL, REPO } from './tools.js';

const runs: DryRun[] = [];
function dry(env: Record<string, string>): DryRun {
  const r = dryRun(env);
  runs.push(r);
  return r;
}
afterAll(() => {
  for (const r of runs) rmSync(r.root, { recursive: true, force: true });
});

const read = (r: DryRun, file: string) => readFileSync(path.join(r.root, file), 'utf8');

/** KEY=value lines of an env file (systemd EnvironmentFile syntax as install.sh writes it). */
function envFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

describe('deploy/install.sh', () => {
  it('passes shellcheck', () => {
    const shellcheck = program('shellcheck');
    if (shellcheck === undefined) return;
    const r = spawnSync(shellcheck, ['--severity=style', INSTALL], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('ROLE=haproxy writes the config that deploy/haproxy.cfg.example shows, and HAProxy accepts it', () => {
    const r = dry({ ROLE: 'haproxy' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const cfg = read(r, 'etc/haproxy/haproxy.cfg');
    // the example is the script's output for the default NODES: they cannot drift apart
    expect(cfg).toBe(readFileSync(path.join(REPO, 'deploy/haproxy.cfg.example'), 'utf8'));
    expect(r.stdout).toContain('+ systemctl reload-or-restart haproxy.service');
    const haproxy = program('haproxy', ['/usr/sbin/haproxy']);
    if (haproxy === undefined) return;
    const check = spawnSync(haproxy, ['-c', '-f', path.join(REPO, 'deploy/haproxy.cfg.example')], {
      encoding: 'utf8',
    });
    expect(check.stdout + check.stderr).toContain('Configuration file is valid');
    expect(check.status).toBe(0);
  });

  it('the HAProxy config follows NODES: one TCP and one HTTP server per node, checked on /readyz', () => {
    const nodes = ['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5'];
    const r = dry({ ROLE: 'haproxy', NODES: nodes.join(',') });
    expect(r.status).toBe(0);
    const cfg = read(r, 'etc/haproxy/haproxy.cfg');
    for (const [i, n] of nodes.entries()) {
      expect(cfg).toContain(`server node${i + 1} ${n}:5000 check port 8080`);
      expect(cfg).toContain(`server node${i + 1} ${n}:5443 check port 8080`);
      expect(cfg).toContain(`server node${i + 1} ${n}:8080 check`);
    }
    expect(cfg.match(/^\s+server /gm)).toHaveLength(15);
    expect(cfg.match(/option httpchk GET \/readyz/g)).toHaveLength(3);
    expect(cfg.match(/balance leastconn/g)).toHaveLength(3);
    for (const port of [5000, 5443, 8080]) expect(cfg).toMatch(new RegExp(`^    bind :${port}$`, 'm'));
    expect(cfg).toMatch(/timeout tunnel/);
    expect(cfg).toMatch(/stats socket \/run\/haproxy\/admin\.sock/);
    const haproxy = program('haproxy', ['/usr/sbin/haproxy']);
    if (haproxy === undefined) return;
    const check = spawnSync(haproxy, ['-c', '-f', path.join(r.root, 'etc/haproxy/haproxy.cfg')]);
    expect(check.status).toBe(0);
  });

  it('ROLE=nats,node: a NATS cluster member routed to every node, and a node env of real NEXO_* settings', () => {
    const r = dry({
      ROLE: 'nats,node',
      NODE_ID: 'n2',
      NODES: '10.0.1.11,10.0.1.12,10.0.1.13',
      POSTGRES_URL: 'postgres://nexo:pw@db.example:5432/nexo',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const nats = read(r, 'etc/nexo/nats.conf');
    expect(nats).toContain('server_name: "n2"');
    expect(nats).toMatch(/jetstream \{/);
    for (const ip of ['10.0.1.11', '10.0.1.12', '10.0.1.13'])
      expect(nats).toContain(`nats-route://${ip}:6222`);

    const env = envFile(read(r, 'etc/nexo/nexo.env'));
    expect(env.get('NEXO_STORAGE')).toBe('postgres');
    expect(env.get('NEXO_POSTGRES')).toBe('postgres://nexo:pw@db.example:5432/nexo');
    expect(env.get('NEXO_NATS')).toBe('nats://10.0.1.11:4222,nats://10.0.1.12:4222,nats://10.0.1.13:4222');
    expect(env.get('NEXO_NODE_ID')).toBe('n2');
    // every variable written is one `nexo server` reads (a renamed setting fails here)
    const known = new Set([...SERVER_SETTINGS.map((s) => s.env), 'NEXO_TOKENS']);
    for (const key of env.keys()) expect(known, key).toContain(key);

    // units installed from deploy/systemd, services enabled, nothing done for real
    expect(read(r, 'etc/systemd/system/nexo.service')).toBe(
      readFileSync(path.join(REPO, 'deploy/systemd/nexo.service'), 'utf8'),
    );
    expect(r.stdout).toContain('+ systemctl enable --now nexo-nats.service');
    expect(r.stdout).toContain('+ systemctl enable --now nexo.service');
    expect(r.stdout).toContain('npm ci');
  });

  it('ROLE=node with TLS_CERT/TLS_KEY turns on the TLS port and keeps HTTP plain for HAProxy', () => {
    const r = dry({
      ROLE: 'node',
      TLS_CERT: '/etc/nexo/tls/node.pem',
      TLS_KEY: '/etc/nexo/tls/node-key.pem',
    });
    expect(r.status).toBe(0);
    const env = envFile(read(r, 'etc/nexo/nexo.env'));
    expect(env.get('NEXO_TLS_CERT')).toBe('/etc/nexo/tls/node.pem');
    expect(env.get('NEXO_TLS_KEY')).toBe('/etc/nexo/tls/node-key.pem');
    expect(env.get('NEXO_HTTPS')).toBe('false');
    const known = new Set(SERVER_SETTINGS.map((s) => s.env));
    for (const key of env.keys()) expect(known, key).toContain(key);
    expect(dry({ ROLE: 'node', TLS_CERT: '/x.pem' }).stderr).toMatch(/set TLS_KEY/);
  });

  it('ROLE=node without POSTGRES_URL is a single embedded node', () => {
    const r = dry({ ROLE: 'node', NODE_ID: 'solo' });
    expect(r.status).toBe(0);
    const env = envFile(read(r, 'etc/nexo/nexo.env'));
    expect(env.get('NEXO_STORAGE')).toBe('embedded');
    expect(env.has('NEXO_NATS')).toBe(false);
  });

  it('ROLE=sensor: one env file and one nexo-sensor@ instance per SENSORS entry', () => {
    const r = dry({ ROLE: 'sensor', SERVER: '10.0.1.10:5000' });
    expect(r.status).toBe(0);
    const s1 = envFile(read(r, 'etc/nexo/sensor-s1.env'));
    const s2 = envFile(read(r, 'etc/nexo/sensor-s2.env'));
    expect(Object.fromEntries(s1)).toEqual({
      NEXO_SERVER: '10.0.1.10:5000',
      NEXO_SENSOR_METRIC: 'temperature',
      NEXO_SENSOR_EVERY: '2s',
    });
    expect(s2.get('NEXO_SENSOR_METRIC')).toBe('humidity');
    expect(s2.get('NEXO_SENSOR_EVERY')).toBe('3s');
    expect(r.stdout).toContain('+ systemctl enable --now nexo-sensor@s1.service');
    expect(r.stdout).toContain('+ systemctl enable --now nexo-sensor@s2.service');
  });

  it('ROLE=postgres creates the nexo role and database, reachable from PG_ALLOW only', () => {
    const r = dry({ ROLE: 'postgres', PG_PASSWORD: 'secret_1', PG_ALLOW: '10.0.1.0/24' });
    expect(r.status).toBe(0);
    expect(read(r, 'etc/postgresql/nexo.conf')).toContain("listen_addresses = '*'");
    expect(r.stdout).toContain('host nexo nexo 10.0.1.0/24 scram-sha-256');
    expect(r.stdout).toContain("CREATE ROLE nexo LOGIN PASSWORD 'secret_1'");
  });

  it.each([
    [{ ROLE: 'webserver' }, /unknown role 'webserver'/],
    [{ ROLE: 'node,../../etc' }, /unknown role/],
    [{ ROLE: 'sensor', SENSORS: 's1:temperature' }, /not id:metric:every/],
    [{ ROLE: 'sensor', SENSORS: '../x:temperature:2s' }, /not id:metric:every/],
    [{ ROLE: 'sensor', SENSORS: "s1';reboot;':t:2s" }, /not id:metric:every/],
    [{ ROLE: 'postgres' }, /set PG_PASSWORD/],
    [{ ROLE: 'postgres', PG_PASSWORD: "x'; DROP ROLE postgres; --" }, /PG_PASSWORD may hold only/],
    [{ ROLE: 'node', NEXO_SOURCE: '/nonexistent' }, /not a nexo checkout/],
    [{}, /set ROLE=/],
  ])('refuses bad input %o', (env, message) => {
    const r = dry(env as Record<string, string>);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('refuses to run for real without root', () => {
    // as root, drop to nobody for this one run (runuser is util-linux, always on Debian)
    const asRoot = process.getuid?.() === 0;
    const cmd = asRoot ? 'runuser' : 'bash';
    const args = asRoot ? ['-u', 'nobody', '--', 'bash', INSTALL] : [INSTALL];
    const r = spawnSync(cmd, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ROLE: 'node', DRY_RUN: '0' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(r.stderr).toContain('run as root');
    expect(r.status).toBe(1);
  });
});
