import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as x509 from '@peculiar/x509';

/**
 * `nexo certs init`: a development CA, a server certificate for the names and addresses given, and client
 * certificates whose subject carries the role as OU and the principal as CN (§5.1.6). Built with
 * @peculiar/x509 on Node's WebCrypto; ECDSA P-256 keys.
 */
export interface CertsPlan {
  dir: string;
  /** DNS names of the server certificate (the first is its CN). */
  names: string[];
  /** IP addresses of the server certificate. */
  ips: string[];
  /** Client certificates: CN (a sensor's id, a user's name) and role (OU). */
  clients: { name: string; role: string }[];
  days: number;
  force: boolean;
}

export interface CertsWritten {
  files: string[];
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;

export function checkPlan(plan: CertsPlan): string[] {
  const problems: string[] = [];
  for (const name of plan.names) {
    if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(name)) {
      problems.push(`--name ${name}: not a DNS name`);
    }
  }
  for (const ip of plan.ips) if (net.isIP(ip) === 0) problems.push(`--ip ${ip}: not an IP address`);
  for (const c of plan.clients) {
    if (!NAME.test(c.name)) problems.push(`--client ${c.name}: name must be 1-64 letters, digits, . _ -`);
    if (!ROLE.test(c.role)) problems.push(`--client ${c.name}=${c.role}: role must be a lowercase word`);
  }
  if (plan.names.length + plan.ips.length === 0) problems.push('give the server at least one --name or --ip');
  if (!Number.isInteger(plan.days) || plan.days < 1 || plan.days > 3650) problems.push('--days: 1 to 3650');
  return problems;
}

export async function initCerts(plan: CertsPlan): Promise<CertsWritten> {
  const problems = checkPlan(plan);
  if (problems.length > 0) throw new TypeError(problems.join('; '));
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const targets = ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem'].concat(
    plan.clients.flatMap((c) => [`client-${c.name}.pem`, `client-${c.name}-key.pem`]),
  );
  if (!plan.force) {
    const existing = targets.filter((f) => fs.existsSync(path.join(plan.dir, f)));
    if (existing.length > 0) {
      throw new TypeError(`${path.join(plan.dir, existing[0]!)} exists; use --force to replace the set`);
    }
  }
  fs.mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
  const notBefore = new Date(Date.now() - 60_000); // a minute of slack for clocks a little behind
  const notAfter = new Date(Date.now() + plan.days * 86_400_000);
  const caKeys = await generate();
  const caName = `CN=nexo development CA ${new Date().toISOString().slice(0, 10)}, O=nexo`;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const written: string[] = [];
  const write = (file: string, text: string, secret: boolean) => {
    const full = path.join(plan.dir, file);
    fs.writeFileSync(full, text, { mode: secret ? 0o600 : 0o644 });
    if (secret) fs.chmodSync(full, 0o600);
    written.push(full);
  };
  write('ca.pem', ca.toString('pem'), false);
  write('ca-key.pem', await pemKey(caKeys.privateKey), true);

  const issue = async (subject: string, extensions: x509.Extension[]) => {
    const keys = await generate();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ...extensions,
      ],
    });
    return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
  };
  const server = await issue(`CN=${plan.names[0] ?? plan.ips[0]}, O=nexo`, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([
      ...plan.names.map((value) => ({ type: 'dns' as const, value })),
      ...plan.ips.map((value) => ({ type: 'ip' as const, value })),
    ]),
  ]);
  write('server.pem', server.cert, false);
  write('server-key.pem', server.key, true);
  for (const client of plan.clients) {
    const issued = await issue(`CN=${client.name}, OU=${client.role}, O=nexo`, [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ]);
    write(`client-${client.name}.pem`, issued.cert, false);
    write(`client-${client.name}-key.pem`, issued.key, true);
  }
  return { files: written };
}

function generate(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function pemKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** 16 random bytes, first bit clear so the DER integer stays positive. */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f;
  return Buffer.from(bytes).toString('hex');
}
