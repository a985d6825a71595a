import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initCerts } from '../../src/security/certs.js';

export interface CertSet {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  client(name: string): { cert: string; key: string };
  read(file: string): Buffer;
}

/** A CA, a server certificate for localhost/127.0.0.1 and client certificates, made as `nexo certs init`. */
export async function makeCerts(
  clients: { name: string; role: string }[] = [
    { name: 'admin', role: 'admin' },
    { name: 'lab-1', role: 'sensor' },
  ],
): Promise<CertSet> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-certs-'));
  await initCerts({ dir, names: ['localhost'], ips: ['127.0.0.1'], clients, days: 2, force: false });
  const at = (f: string) => path.join(dir, f);
  return {
    dir,
    ca: at('ca.pem'),
    cert: at('server.pem'),
    key: at('server-key.pem'),
    client: (name) => ({ cert: at(`client-${name}.pem`), key: at(`client-${name}-key.pem`) }),
    read: (file) => readFileSync(file),
  };
}

export const OPENSSL = ['/usr/bin/openssl', '/bin/openssl'].find((p) => existsSync(p));

/** Whether the real `openssl` program can run; skipped with a reason, never under CI=true. */
export function opensslAvailable(): boolean {
  if (OPENSSL !== undefined) {
    execFileSync(OPENSSL, ['version']);
    return true;
  }
  const reason = 'openssl not found: these tests run the real openssl s_client (Debian package openssl)';
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip them`);
  console.warn(`skipping openssl tests: ${reason}`);
  return false;
}
