import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { NexoStack } from '../../infra/stack.js';

type Resource = { Type: string; Properties: Record<string, unknown> };

function synth(context: Record<string, string> = {}): Template {
  // a git source keeps the tests from zipping the checkout; one test below covers the asset
  const app = new App({ context: { source: 'https://example.org/nexo.git', ...context } });
  return Template.fromStack(new NexoStack(app, 'Test'));
}

/** The user data script of an instance, with CloudFormation tokens shown as <Ref>/<GetAtt>. */
function userData(r: Resource): string {
  const ud = (r.Properties.UserData as { 'Fn::Base64': unknown })['Fn::Base64'];
  const flat = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if ('Fn::Join' in o) return (o['Fn::Join'] as [string, unknown[]])[1].map(flat).join('');
    return `<${Object.keys(o)[0]}>`;
  };
  return flat(ud);
}

function tag(r: Resource, key: string): string | undefined {
  return (r.Properties.Tags as { Key: string; Value: string }[] | undefined)?.find((t) => t.Key === key)
    ?.Value;
}

function instances(t: Template): Resource[] {
  return Object.values(t.findResources('AWS::EC2::Instance')) as Resource[];
}

const t = synth();

describe('infra: the CloudFormation template', () => {
  it('has the lab network: VPC 10.0.0.0/16, server 10.0.1.0/24 and client 10.0.2.0/24, a gateway and routes', () => {
    t.resourceCountIs('AWS::EC2::VPC', 1);
    t.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16' });
    t.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '10.0.1.0/24', MapPublicIpOnLaunch: true });
    t.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '10.0.2.0/24', MapPublicIpOnLaunch: true });
    t.resourceCountIs('AWS::EC2::InternetGateway', 1);
    t.resourceCountIs('AWS::EC2::VPCGatewayAttachment', 1);
    t.hasResourceProperties('AWS::EC2::Route', {
      DestinationCidrBlock: '0.0.0.0/0',
      GatewayId: { Ref: Match.stringLikeRegexp('InternetGateway') },
    });
    // both lab subnets use the table with the default route; the data subnets have no way out
    const assoc = Object.values(t.findResources('AWS::EC2::SubnetRouteTableAssociation')) as Resource[];
    const tableOf = (cidr: string) => {
      const [id] = Object.entries(
        t.findResources('AWS::EC2::Subnet', { Properties: { CidrBlock: cidr } }),
      )[0]!;
      return JSON.stringify(
        assoc.find((a) => JSON.stringify(a.Properties.SubnetId) === JSON.stringify({ Ref: id }))!.Properties
          .RouteTableId,
      );
    };
    const route = JSON.stringify(
      (Object.values(t.findResources('AWS::EC2::Route'))[0] as Resource).Properties.RouteTableId,
    );
    expect(tableOf('10.0.1.0/24')).toBe(route);
    expect(tableOf('10.0.2.0/24')).toBe(route);
    expect(tableOf('10.0.3.0/24')).not.toBe(route);
  });

  it('instances: one HAProxy, three nodes, two sensors, and RDS for PostgreSQL', () => {
    const roles = instances(t)
      .map((r) => tag(r, 'nexo:role'))
      .sort();
    expect(roles).toEqual(['haproxy', 'node', 'node', 'node', 'sensor', 'sensor']);
    t.resourceCountIs('AWS::RDS::DBInstance', 1);
    t.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      PubliclyAccessible: false,
      StorageEncrypted: true,
      DBName: 'nexo',
    });
    const ips = Object.fromEntries(instances(t).map((r) => [tag(r, 'Name'), r.Properties.PrivateIpAddress]));
    expect(ips).toEqual({
      'nexo-haproxy': '10.0.1.10',
      'nexo-node1': '10.0.1.11',
      'nexo-node2': '10.0.1.12',
      'nexo-node3': '10.0.1.13',
      'nexo-sensor-s1': '10.0.2.21',
      'nexo-sensor-s2': '10.0.2.22',
    });
  });

  it('--context rds=false: PostgreSQL on an instance set up by install.sh ROLE=postgres', () => {
    const t2 = synth({ rds: 'false' });
    t2.resourceCountIs('AWS::RDS::DBInstance', 0);
    const pg = instances(t2).filter((r) => tag(r, 'nexo:role') === 'postgres');
    expect(pg).toHaveLength(1);
    expect(pg[0]!.Properties.PrivateIpAddress).toBe('10.0.1.20');
    expect(userData(pg[0]!)).toMatch(
      /ROLE='postgres' PG_ALLOW='10\.0\.1\.0\/24' bash \/opt\/nexo-src\/deploy\/install\.sh/,
    );
    for (const n of instances(t2).filter((r) => tag(r, 'nexo:role') === 'node')) {
      expect(userData(n)).toContain(`POSTGRES_URL="postgres://nexo:\${PG_PASSWORD}@10.0.1.20:5432/nexo"`);
    }
  });

  it('user data runs deploy/install.sh with each machine role and its variables', () => {
    const byName: Record<string, string> = Object.fromEntries(
      instances(t).map((r) => [tag(r, 'Name'), userData(r)]),
    );
    expect(byName['nexo-haproxy']).toContain("ROLE='haproxy' NODES='10.0.1.11,10.0.1.12,10.0.1.13'");
    for (const i of [1, 2, 3]) {
      const ud = byName[`nexo-node${i}`]!;
      expect(ud).toContain(`ROLE='nats,node' NODE_ID='node${i}' NATS_NAME='node${i}'`);
      expect(ud).toContain("NATS_URLS='nats://10.0.1.11:4222,nats://10.0.1.12:4222,nats://10.0.1.13:4222'");
      // the password is read at boot from Secrets Manager, never written into the template
      expect(ud).toMatch(
        /PG_PASSWORD="\$\(aws secretsmanager get-secret-value --region '<Ref>' --secret-id '<Ref>'/,
      );
      expect(ud).toContain(
        `POSTGRES_URL="postgres://nexo:\${PG_PASSWORD}@<Fn::GetAtt>:5432/nexo?sslmode=no-verify"`,
      );
    }
    expect(byName['nexo-sensor-s1']).toContain(
      "ROLE='sensor' SERVER='10.0.1.10:5000' SENSORS='s1:temperature:2s'",
    );
    expect(byName['nexo-sensor-s2']).toContain(
      "ROLE='sensor' SERVER='10.0.1.10:5000' SENSORS='s2:humidity:3s'",
    );
    for (const ud of Object.values(byName)) {
      expect(ud.startsWith('#!/bin/bash\nset -euo pipefail\n')).toBe(true);
      expect(ud).toContain("git clone --depth 1 'https://example.org/nexo.git' /opt/nexo-src");
      expect(ud.trimEnd().endsWith('bash /opt/nexo-src/deploy/install.sh')).toBe(true);
    }
  });

  it('without --context source, instances fetch this checkout from the assets bucket', () => {
    const app = new App();
    const t3 = Template.fromStack(new NexoStack(app, 'Asset'));
    for (const r of instances(t3)) {
      const ud = userData(r);
      expect(ud).toMatch(/aws s3 cp 's3:\/\/<Fn::Sub>\/[0-9a-f]{64}\.zip' '\/tmp\/nexo-src\.zip'/);
      expect(ud).toContain('unzip -q -o /tmp/nexo-src.zip -d /opt/nexo-src');
    }
  });

  it('outputs the public addresses and the dashboard URL', () => {
    const outputs = t.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'DashboardUrl',
        'DatabaseHost',
        'DatabaseSecretArn',
        'HaproxyPublicIp',
        'Node1PublicIp',
        'Node2PublicIp',
        'Node3PublicIp',
        'ProtocolEndpoint',
        'Sensor1PublicIp',
        'Sensor2PublicIp',
      ].sort(),
    );
    expect(JSON.stringify(outputs.DashboardUrl!.Value)).toMatch(
      /"http:\/\/",\{"Fn::GetAtt":\["Haproxy\w+","PublicDnsName"\]\},":8080\/"/,
    );
  });
});
