import { execFile } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { nodeWebSocketFactory } from '../../src/client/ws-node.js';
import type { NexoNode } from '../../src/node/node.js';
import { type CertSet, makeCerts, OPENSSL, opensslAvailable } from '../helpers/certs.js';
import { curl, curlAvailable } from '../helpers/curl.js';
import { startNode } from '../helpers/node.js';

let certs: CertSet;
let foreign: CertSet; // a second CA the node does not trust
let node: NexoNode & { port: number };
let tlsPort: number;
let httpsPort: number;

beforeAll(async () => {
  certs = await makeCerts();
  foreign = await makeCerts([{ name: 'intruder', role: 'admin' }]);
  node = await startNode({
    tls: { port: 0, cert: certs.cert, key: certs.key, ca: certs.ca, clientAuth: 'require' },
    http: { port: 0 },
  });
  tlsPort = node.tlsAddress()!.port;
  httpsPort = node.httpAddress()!.port;
});
afterAll(() => node?.close({ timeoutMs: 500 }));

function client(name: string | undefined, options: { ca?: CertSet } = {}) {
  const pair = name === undefined ? undefined : (options.ca ?? certs).client(name);
  return connect({
    endpoints: [`nexos://127.0.0.1:${tlsPort}`],
    reconnect: false,
    tls: {
      ca: certs.read(certs.ca),
      ...(pair === undefined
        ? {}
        : { cert: (options.ca ?? certs).read(pair.cert), key: (options.ca ?? certs).read(pair.key) }),
    },
  });
}

/** Runs a program with `input` on stdin, closed `holdMs` later (so a refusal can arrive first). */
function run(
  file: string,
  args: string[],
  input: string,
  holdMs = 0,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 10_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
    child.stdin!.write(input);
    setTimeout(() => child.stdin!.end(), holdMs);
  });
}

describe('TLS listener with --tls-client-auth require (spec §2.4, §5.1.6)', () => {
  it('serves the protocol over TLS; the client certificate subject gives the role (OU) and name (CN)', async () => {
    const sensor = await client('lab-1');
    expect(sensor.welcome?.role).toBe('sensor');
    expect(await sensor.calc.eval('2*(3+4)')).toEqual({ value: '14' });
    await sensor.close();
    const admin = await client('admin');
    expect(admin.welcome?.role).toBe('admin');
    await admin.close();
  });

  it('refuses at the handshake a client with no certificate, or one another CA signed, and counts it', async () => {
    const before = node.dispatcher.denials.counts.TLS_HANDSHAKE;
    // TLS 1.3: the server's alert reaches the client right after its side of the handshake, before HELLO.
    await expect(client(undefined)).rejects.toThrow(/alert certificate required/);
    await expect(client('intruder', { ca: foreign })).rejects.toThrow(
      /alert unknown ca|closed the connection during the handshake/,
    );
    // The server counts the refusal once it has seen the client's (missing or bad) certificate.
    const deadline = Date.now() + 2000;
    while (node.dispatcher.denials.counts.TLS_HANDSHAKE < before + 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(node.dispatcher.denials.counts.TLS_HANDSHAKE).toBeGreaterThanOrEqual(before + 2);
  });

  it('refuses a client that does not trust the node (no CA given: the dev CA is not a system CA)', async () => {
    const lab = certs.client('lab-1');
    const c = new NexoClient({
      endpoints: [`nexos://127.0.0.1:${tlsPort}`],
      socketFactory: (await import('../../src/client/tls.js')).nodeSocketFactory({
        cert: certs.read(lab.cert),
        key: certs.read(lab.key),
      }),
      reconnect: false,
    });
    await expect(c.connect()).rejects.toThrow(/self-signed certificate in certificate chain/);
  });

  it('text mode over TLS with openssl s_client', async () => {
    if (!opensslAvailable()) return;
    const lab = certs.client('lab-1');
    const common = ['s_client', '-quiet', '-connect', `127.0.0.1:${tlsPort}`, '-CAfile', certs.ca];
    const out = await run(
      OPENSSL!,
      [...common, '-verify_return_error', '-cert', lab.cert, '-key', lab.key],
      'greet Ana\ncalc 2*(3+4)\nquit\n',
    );
    expect(out.stdout).toBe('¡Hola, Ana!\n14\n');
    // Without a client certificate the handshake fails: nothing of the protocol is ever answered.
    const refused = await run(OPENSSL!, [...common, '-no_ign_eof'], 'greet Ana\n', 1500);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/alert certificate required/);
  });

  it('HTTPS with curl --cacert: the client certificate role applies to REST calls', async () => {
    if (!curlAvailable()) return;
    const admin = certs.client('admin');
    const base = `https://127.0.0.1:${httpsPort}`;
    const ok = await curl([
      '-sS',
      '--cacert',
      certs.ca,
      '--cert',
      admin.cert,
      '--key',
      admin.key,
      `${base}/healthz`,
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout.toString())).toMatchObject({ status: 'ok' });
    // A sensor's certificate: telemetry rules are refused to role sensor (§5.4).
    const lab = certs.client('lab-1');
    const rules = await curl([
      '-sS',
      '--cacert',
      certs.ca,
      '--cert',
      lab.cert,
      '--key',
      lab.key,
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '-d',
      '{}',
      `${base}/api/telemetry/alerts`,
    ]);
    expect(JSON.parse(rules.stdout.toString())).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const refused = await curl(['-sS', '--cacert', certs.ca, `${base}/healthz`]);
    expect(refused.code).not.toBe(0); // no client certificate: the TLS handshake fails
    const untrusted = await curl(['-sS', `${base}/healthz`]);
    expect(untrusted.code).toBe(60); // curl: peer certificate cannot be authenticated with known CA
  });

  it('WSS on the HTTP gateway, with the same client certificate rules', async () => {
    const lab = certs.client('lab-1');
    const c = new NexoClient({
      endpoints: [`127.0.0.1:${httpsPort}`],
      socketFactory: nodeWebSocketFactory({
        tls: { ca: certs.read(certs.ca), cert: certs.read(lab.cert), key: certs.read(lab.key) },
      }),
      reconnect: false,
    });
    await c.connect();
    expect(c.welcome?.role).toBe('sensor');
    expect(await c.calc.eval('6*7')).toEqual({ value: '42' });
    await c.close();
  });
});

describe('certificate reload (SIGHUP) keeps open connections', () => {
  it('new handshakes get the new certificate, open sessions go on; bad files keep the old one', async () => {
    const set = await makeCerts([{ name: 'lab-1', role: 'sensor' }]);
    const dir = set.dir;
    const live = { cert: path.join(dir, 'live.pem'), key: path.join(dir, 'live-key.pem') };
    copyFileSync(set.cert, live.cert);
    copyFileSync(set.key, live.key);
    const n = await startNode({ tls: { port: 0, cert: live.cert, key: live.key } });
    try {
      const port = n.tlsAddress()!.port;
      const fingerprint = () =>
        new Promise<string>((resolve, reject) => {
          const s = tls.connect(
            { host: '127.0.0.1', port, ca: set.read(set.ca), servername: 'localhost' },
            () => {
              resolve(s.getPeerCertificate().fingerprint256);
              s.destroy();
            },
          );
          s.on('error', reject);
        });
      const before = await fingerprint();
      const open = await connect({
        endpoints: [`nexos://127.0.0.1:${port}`],
        tls: { ca: set.read(set.ca) },
        reconnect: false,
      });
      // A renewed certificate from another CA, written over the files in use.
      const renewed = await makeCerts([]);
      copyFileSync(renewed.cert, live.cert);
      copyFileSync(renewed.key, live.key);
      expect(n.security.reloadTls()).toMatchObject({ ok: true });
      const s = tls.connect({
        host: '127.0.0.1',
        port,
        ca: renewed.read(renewed.ca),
        servername: 'localhost',
      });
      const after = await new Promise<string>((resolve, reject) => {
        s.once('secureConnect', () => resolve(s.getPeerCertificate().fingerprint256));
        s.once('error', reject);
      });
      s.destroy();
      expect(after).not.toBe(before);
      expect(await open.calc.eval('1+2')).toEqual({ value: '3' }); // the session from before is untouched
      // A broken file: the reload says why in one line and the node keeps serving the renewed certificate.
      writeFileSync(live.cert, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
      const failed = n.security.reloadTls();
      expect(failed).toMatchObject({ ok: false });
      expect((failed as { error: string }).error).toMatch(/malformed certificate/);
      expect((failed as { error: string }).error).not.toContain('\n');
      expect(await open.calc.eval('2+2')).toEqual({ value: '4' });
      await open.close();
    } finally {
      await n.close({ timeoutMs: 500 });
    }
  });
});
