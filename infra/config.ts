import type { Node } from 'constructs';

/**
 * The app's settings, from `--context key=value` (or cdk.json). Everything has a default so that
 * `cdk synth` works offline with no arguments; docs/deploy.md says which ones a real deploy sets.
 */
export interface InfraConfig {
  /** Extra CIDR allowed to reach 5000/5443/8080 besides the client subnet, e.g. your address /32. */
  readonly clientCidr: string | undefined;
  /** CIDR allowed to SSH to every instance; no SSH rule at all when unset. */
  readonly sshCidr: string | undefined;
  /** true: PostgreSQL on RDS; false (`--context rds=false`): PostgreSQL on an EC2 instance. */
  readonly rds: boolean;
  /** EC2 key pair name for SSH (optional: SSM Session Manager works without one). */
  readonly keyName: string | undefined;
  readonly instanceType: string;
  /** Where instances get nexo: a git URL, or unset to ship this checkout as an S3 asset. */
  readonly source: string | undefined;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Validates an IPv4 CIDR, naming the context key in the error so a typo is found before a deploy. */
export function cidr(key: string, value: string): string {
  const m = CIDR.exec(value);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw new Error(`--context ${key}=${value}: expected an IPv4 CIDR such as 203.0.113.7/32`);
  }
  return value;
}

function bool(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`--context ${key}=${String(value)}: expected true or false`);
}

function str(node: Node, key: string): string | undefined {
  const v = node.tryGetContext(key);
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`--context ${key}: expected a string`);
  return v;
}

export function readConfig(node: Node): InfraConfig {
  const clientCidr = str(node, 'clientCidr');
  const sshCidr = str(node, 'sshCidr');
  const instanceType = str(node, 'instanceType') ?? 't3.small';
  if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(instanceType)) {
    throw new Error(`--context instanceType=${instanceType}: expected an EC2 type such as t3.small`);
  }
  return {
    clientCidr: clientCidr === undefined ? undefined : cidr('clientCidr', clientCidr),
    sshCidr: sshCidr === undefined ? undefined : cidr('sshCidr', sshCidr),
    rds: bool('rds', node.tryGetContext('rds'), true),
    keyName: str(node, 'keyName'),
    instanceType,
    source: str(node, 'source'),
  };
}
