import { Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { InfraConfig } from './config.js';
import type { Network } from './network.js';
import { installUserData, type Source, UBUNTU } from './user-data.js';

export interface NexoInstanceProps {
  readonly network: Network;
  readonly subnet: ec2.ISubnet;
  readonly privateIp: string;
  readonly group: ec2.ISecurityGroup;
  readonly config: InfraConfig;
  readonly source: Source;
  /** The `nexo:role` tag and the instance name, e.g. node, sensor, haproxy. */
  readonly role: string;
  readonly name: string;
  /** install.sh variables (ROLE, NODES, ...). */
  readonly vars: Record<string, string>;
  readonly shellVars?: Record<string, string>;
}

/**
 * One Ubuntu instance set up by deploy/install.sh at boot, with a public address (for apt, and for you
 * over SSH or Session Manager) and a fixed private address that the other machines' configs name.
 */
export function nexoInstance(scope: Construct, id: string, props: NexoInstanceProps): ec2.Instance {
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    // Session Manager: a shell without opening SSH
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
  });
  const userData = installUserData(props.source, role, props.vars, props.shellVars);
  const instance = new ec2.Instance(scope, id, {
    vpc: props.network.vpc,
    vpcSubnets: { subnets: [props.subnet] },
    privateIpAddress: props.privateIp,
    instanceType: new ec2.InstanceType(props.config.instanceType),
    machineImage: UBUNTU,
    securityGroup: props.group,
    role,
    userData,
    userDataCausesReplacement: true,
    instanceName: props.name,
    ...(props.config.keyName
      ? { keyPair: ec2.KeyPair.fromKeyPairName(scope, `${id}Key`, props.config.keyName) }
      : {}),
  });
  Tags.of(instance).add('nexo:role', props.role);
  return instance;
}
