import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import { loadTlsMaterial } from '../../src/security/tls-material.js';
import { type CertSet, makeCerts } from '../helpers/certs.js';
import { CLI, freePort, spawnServer, tempDataDir } from '../helpers/node.js';

let certs: CertSet;
let other: CertSet;
beforeAll(async () => {
  certs = await makeCerts([{ name: 'lab-1', role: 'sensor' }]);
  other = await makeCerts([]);
});

/** `nexo server` with these TLS files: its exit code and what it printed (it must not start). */
function serverFails(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        CLI,
        'server',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--no-http',
        '--data-dir',
        tempDataDir(),
        ...args,
      ],
      { timeout: 15_000 },
      (err, _stdout, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }),
    );
  });
}

describe('bad certificate files give one clear line and no start (spec §5.1.6)', () => {
  it('malformed PEM', async () => {
    const bad = path.join(certs.dir, 'bad.pem');
    writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n');
    const out = await serverFails(['--tls-cert', bad, '--tls-key', certs.key]);
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/tls certificate .*bad\.pem: malformed certificate/);
  });

  it('a file that is not PEM at all, and a missing file', async () => {
    const der = path.join(certs.dir, 'not-pem.pem');
    writeFileSync(der, Buffer.from([0x30, 0x82, 0x01, 0x00, 0xff]));
    const notPem = await serverFails(['--tls-cert', der, '--tls-key', certs.key]);
    expect(notPem.stderr).toMatch(/not PEM \(no -----BEGIN line\)/);
    const missing = await serverFails([
      '--tls-cert',
      path.join(certs.dir, 'nope.pem'),
      '--tls-key',
      certs.key,
    ]);
    expect(missing.stderr).toMatch(/nope\.pem: cannot read \(ENOENT\)/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a key that does not belong to the certificate', async () => {
    const out = await serverFails(['--tls-cert', certs.cert, '--tls-key', other.key]);
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/tls key .*server-key\.pem does not match certificate .*server\.pem/);
  });

  it('an expired certificate, and one not valid yet', () => {
    const files = { cert: certs.cert, key: certs.key, ca: certs.ca };
    expect(() => loadTlsMaterial(files, Date.now() + 3 * 86_400_000)).toThrow(
      /tls certificate .*server\.pem: expired on \d{4}-\d\d-\d\dT/,
    );
    expect(() => loadTlsMaterial(files, Date.now() - 86_400_000)).toThrow(/not valid before/);
    expect(() => loadTlsMaterial(files)).not.toThrow();
  });

  it('client auth without a CA is a configuration error', async () => {
    const out = await serverFails([
      '--tls-cert',
      certs.cert,
      '--tls-key',
      certs.key,
      '--tls-client-auth',
      'require',
    ]);
    expect(out.stderr).toMatch(
      /tls\.clientAuth: 'require' checks client certificates against a CA: give tls\.ca/,
    );
  });
});

describe('SIGHUP reloads the certificate of a running `nexo server`', () => {
  it('keeps the open connection and serves the new certificate to new handshakes', async () => {
    const live = { cert: path.join(certs.dir, 'live.pem'), key: path.join(certs.dir, 'live-key.pem') };
    writeFileSync(live.cert, certs.read(certs.cert));
    writeFileSync(live.key, certs.read(certs.key));
    const tlsPort = await freePort();
    const server = await spawnServer([
      '--tls-port',
      String(tlsPort),
      '--tls-cert',
      live.cert,
      '--tls-key',
      live.key,
    ]);
    try {
      const peerFingerprint = (ca: Buffer) =>
        new Promise<string>((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port: tlsPort, ca, servername: 'localhost' }, () => {
            resolve(s.getPeerCertificate().fingerprint256);
            s.end();
          });
          s.on('error', reject);
        });
      const first = await peerFingerprint(certs.read(certs.ca));
      const client = await connect({
        endpoints: [`nexos://localhost:${tlsPort}`],
        tls: { ca: certs.read(certs.ca) },
        reconnect: false,
      });
      writeFileSync(live.cert, other.read(other.cert));
      writeFileSync(live.key, other.read(other.key));
      server.child.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      while (!server.output().includes('TLS certificate reloaded') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(server.output()).toContain('TLS certificate reloaded');
      expect(await peerFingerprint(other.read(other.ca))).not.toBe(first);
      expect(await client.calc.eval('20+22')).toEqual({ value: '42' });
      expect(client.state).toBe('open');
      await client.close();
    } finally {
      await server.stop();
    }
  });
});
