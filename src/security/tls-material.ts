import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The files a TLS listener serves, read and checked together so a mistake is one clear line at start-up or
 * at a SIGHUP reload (which then keeps the old material): unreadable file, not PEM, key that does not belong
 * to the certificate, certificate expired or not yet valid.
 */
export interface TlsFiles {
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to (mTLS). */
  ca?: string | undefined;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
  /** The leaf certificate, for logs (subject, validity, fingerprint). */
  readonly leaf: X509Certificate;
}

export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function loadTlsMaterial(files: TlsFiles, now = Date.now()): TlsMaterial {
  const cert = readPem(files.cert, 'certificate');
  const key = readPem(files.key, 'key');
  const ca = files.ca === undefined ? undefined : readPem(files.ca, 'CA');
  const leaf = parseFirstCertificate(cert, files.cert, 'certificate');
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new TlsMaterialError(`tls key ${files.key}: not a PEM private key (${reason(err)})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsMaterialError(
      `tls key ${files.key} does not match certificate ${files.cert} (subject ${oneLine(leaf.subject)})`,
    );
  }
  checkValidity(leaf, files.cert, 'certificate', now);
  if (ca !== undefined) {
    const authorities = ca.toString('latin1').match(PEM_CERT) ?? [];
    if (authorities.length === 0) throw new TlsMaterialError(`tls CA ${files.ca}: no PEM certificate in it`);
    for (const pem of authorities) {
      const authority = parseFirstCertificate(Buffer.from(pem), files.ca!, 'CA');
      checkValidity(authority, files.ca!, 'CA', now);
    }
  }
  // The public key is derived once so a certificate whose key type Node cannot use fails here, not at the
  // first handshake.
  createPublicKey(leaf.publicKey.export({ type: 'spki', format: 'pem' }));
  return { cert, key, ca, leaf };
}

function readPem(file: string, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new TlsMaterialError(`tls ${what} ${file}: cannot read (${reason(err)})`);
  }
  if (bytes.length > 1024 * 1024) throw new TlsMaterialError(`tls ${what} ${file}: larger than 1 MiB`);
  if (!bytes.toString('latin1').includes('-----BEGIN ')) {
    throw new TlsMaterialError(`tls ${what} ${file}: not PEM (no -----BEGIN line)`);
  }
  return bytes;
}

function parseFirstCertificate(bytes: Buffer, file: string, what: string): X509Certificate {
  const first = bytes.toString('latin1').match(PEM_CERT)?.[0];
  if (first === undefined) throw new TlsMaterialError(`tls ${what} ${file}: no PEM certificate in it`);
  try {
    return new X509Certificate(first);
  } catch (err) {
    throw new TlsMaterialError(`tls ${what} ${file}: malformed certificate (${reason(err)})`);
  }
}

function checkValidity(cert: X509Certificate, file: string, what: string, now: number): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now > to) throw new TlsMaterialError(`tls ${what} ${file}: expired on ${new Date(to).toISOString()}`);
  if (now < from) {
    throw new TlsMaterialError(`tls ${what} ${file}: not valid before ${new Date(from).toISOString()}`);
  }
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return oneLine(e.code ?? e.message ?? String(err));
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}
