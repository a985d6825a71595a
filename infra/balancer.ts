import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { InfraConfig } from './config.js';
import { nexoInstance } from './instance.js';
import { HAPROXY_IP, type Network, NODE_IPS } from './network.js';
import type { Source } from './user-data.js';

/**
 * The HAProxy instance: clients' one address. TCP 5000 and HTTP 8080 to the least-loaded ready node
 * (deploy/haproxy.cfg.example, written by install.sh ROLE=haproxy from NODES).
 */
export function balancer(
  scope: Construct,
  props: { network: Network; group: ec2.SecurityGroup; config: InfraConfig; source: Source },
): ec2.Instance {
  return nexoInstance(scope, 'Haproxy', {
    ...props,
    subnet: props.network.serverSubnet,
    privateIp: HAPROXY_IP,
    role: 'haproxy',
    name: 'nexo-haproxy',
    vars: { ROLE: 'haproxy', NODES: NODE_IPS.join(',') },
  });
}
