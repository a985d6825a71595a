import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { InfraConfig } from './config.js';
import { CLIENT_SUBNET } from './network.js';
import { AGENT_PORT, HTTP_PORT, POSTGRES_PORT, PROTOCOL_PORT, SSH_PORT, TLS_PORT } from './ports.js';

/**
 * Every security group and what it lets in, in one file so the whole firewall reads at once. Clients
 * (the client subnet, and `--context clientCidr` if given) reach only the protocol, TLS and HTTP ports;
 * SSH only from `--context sshCidr`; PostgreSQL and NATS only from the nodes.
 */
export class Security extends Construct {
  readonly balancer: ec2.SecurityGroup;
  readonly nodes: ec2.SecurityGroup;
  readonly sensors: ec2.SecurityGroup;
  readonly database: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, vpc: ec2.IVpc, config: InfraConfig) {
    super(scope, id);
    const group = (name: string, description: string) =>
      new ec2.SecurityGroup(this, name, { vpc, description, allowAllOutbound: true });
    this.balancer = group('Balancer', 'nexo HAProxy: protocol, TLS and HTTP from clients');
    this.nodes = group('Nodes', 'nexo nodes: from HAProxy and clients; NATS among themselves');
    this.sensors = group('Sensors', 'nexo sensors: no inbound but SSH');
    this.database = group('Database', 'nexo PostgreSQL: from the nodes only');

    const clients = [CLIENT_SUBNET, ...(config.clientCidr ? [config.clientCidr] : [])].map((c) =>
      ec2.Peer.ipv4(c),
    );
    const clientPorts = [
      [ec2.Port.tcp(PROTOCOL_PORT), 'nexo protocol'],
      [ec2.Port.tcp(TLS_PORT), 'nexo protocol over TLS'],
      [ec2.Port.tcp(HTTP_PORT), 'REST API, WebSocket, dashboard'],
    ] as const;
    for (const peer of clients) {
      for (const [port, what] of clientPorts) {
        this.balancer.addIngressRule(peer, port, what);
        this.nodes.addIngressRule(peer, port, what);
      }
      // UDP sensors (protocol §13) cannot pass HAProxy: they report to a node directly
      this.nodes.addIngressRule(peer, ec2.Port.udp(PROTOCOL_PORT), 'nexo protocol over UDP');
    }
    for (const [port, what] of clientPorts)
      this.nodes.addIngressRule(this.balancer, port, `${what} via HAProxy`);
    // HAProxy asks each node for its weight (`up 80%`) or `drain` (install.sh's agent-check lines)
    this.nodes.addIngressRule(this.balancer, ec2.Port.tcp(AGENT_PORT), 'agent-check from HAProxy');
    this.database.addIngressRule(this.nodes, ec2.Port.tcp(POSTGRES_PORT), 'PostgreSQL from the nodes');

    if (config.sshCidr) {
      for (const g of [this.balancer, this.nodes, this.sensors, this.database]) {
        g.addIngressRule(ec2.Peer.ipv4(config.sshCidr), ec2.Port.tcp(SSH_PORT), 'SSH from the admin CIDR');
      }
    }
  }
}
