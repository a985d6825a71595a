import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { NODE_IPS } from './network.js';
import { NATS_CLIENT_PORT, NATS_CLUSTER_PORT } from './ports.js';

/**
 * NATS with JetStream runs on the node instances, three servers in one cluster (install.sh ROLE=nats
 * writes the routes from NODES). A node talks to all three, so it keeps working while one is down.
 */
export function allowNatsCluster(nodes: ec2.SecurityGroup): void {
  nodes.addIngressRule(nodes, ec2.Port.tcp(NATS_CLIENT_PORT), 'NATS clients (the nodes)');
  nodes.addIngressRule(nodes, ec2.Port.tcp(NATS_CLUSTER_PORT), 'NATS cluster routes');
}

/** install.sh variables for the NATS server on node `i` (0-based). */
export function natsVars(i: number): Record<string, string> {
  return {
    NATS_NAME: `node${i + 1}`,
    NODES: NODE_IPS.join(','),
    NATS_URLS: NODE_IPS.map((ip) => `nats://${ip}:${NATS_CLIENT_PORT}`).join(','),
  };
}
