import { Aws } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';

/** Where nexo comes from on an instance: this checkout as an S3 asset, or a git URL. */
export type Source = { readonly asset: s3assets.Asset } | { readonly git: string };

/** Ubuntu 24.04 LTS, resolved by CloudFormation at deploy time (so synth needs no AWS account). */
export const UBUNTU = ec2.MachineImage.fromSsmParameter(
  '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
  { os: ec2.OperatingSystemType.LINUX },
);

const SAFE = /^[A-Za-z0-9_.,:/@=+-]*$/;

/**
 * User data that fetches nexo and runs deploy/install.sh with `vars` (the same script and variables as
 * on a plain VM, docs/deploy.md). Values are literal or CloudFormation tokens (addresses); `shellVars`
 * are shell expressions evaluated at boot (e.g. a password read from Secrets Manager).
 */
export function installUserData(
  source: Source,
  role: iam.IRole,
  vars: Record<string, string>,
  shellVars: Record<string, string> = {},
): ec2.UserData {
  const ud = ec2.UserData.forLinux();
  ud.addCommands(
    // no -x: the database password passes through here and cloud-init logs every traced command
    'set -euo pipefail',
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update',
    'apt-get install -y --no-install-recommends unzip git curl ca-certificates',
    // Ubuntu 24.04 images have snap but no AWS CLI package in apt
    'command -v aws || snap install aws-cli --classic',
  );
  if ('asset' in source) {
    source.asset.grantRead(role);
    const zip = ud.addS3DownloadCommand({
      bucket: source.asset.bucket,
      bucketKey: source.asset.s3ObjectKey,
      localFile: '/tmp/nexo-src.zip',
    });
    ud.addCommands('rm -rf /opt/nexo-src', `unzip -q -o ${zip} -d /opt/nexo-src`);
  } else {
    if (!SAFE.test(source.git)) throw new Error(`--context source=${source.git}: not a plain git URL`);
    ud.addCommands('rm -rf /opt/nexo-src', `git clone --depth 1 '${source.git}' /opt/nexo-src`);
  }
  const env = Object.entries({ NEXO_SOURCE: '/opt/nexo-src', ...vars }).map(([k, v]) => {
    // tokens (resolved addresses) are safe by construction; literals are checked
    if (!v.includes('${Token[') && !SAFE.test(v)) throw new Error(`user data: unsafe value for ${k}: ${v}`);
    return `${k}='${v}'`;
  });
  for (const [k, expr] of Object.entries(shellVars)) ud.addCommands(`${k}=${expr}`, `export ${k}`);
  ud.addCommands(`env ${env.join(' ')} bash /opt/nexo-src/deploy/install.sh`);
  return ud;
}

/** A boot-time shell expression reading one JSON key of a Secrets Manager secret. */
export function secretField(secretArn: string, field: string): string {
  return `"$(aws secretsmanager get-secret-value --region '${Aws.REGION}' --secret-id '${secretArn}' --query SecretString --output text | python3 -c 'import json,sys; print(json.load(sys.stdin)["${field}"])')"`;
}
