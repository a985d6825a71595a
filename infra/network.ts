import { Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** The lab's addresses: the server and client subnets, and fixed private IPs the configs name. */
export const VPC_CIDR = '10.0.0.0/16';
export const SERVER_SUBNET = '10.0.1.0/24';
export const CLIENT_SUBNET = '10.0.2.0/24';
/** Two private subnets in two zones: RDS wants a subnet group across two availability zones. */
export const DATA_SUBNETS = ['10.0.3.0/24', '10.0.4.0/24'] as const;
export const HAPROXY_IP = '10.0.1.10';
export const NODE_IPS = ['10.0.1.11', '10.0.1.12', '10.0.1.13'] as const;
export const POSTGRES_IP = '10.0.1.20';
export const SENSOR_IPS = ['10.0.2.21', '10.0.2.22'] as const;

/**
 * VPC, subnets, internet gateway and routes, written as plain CloudFormation resources so that the
 * CIDRs are exactly the lab's (the L2 Vpc picks its own), then wrapped as an IVpc for the instances.
 */
export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  readonly serverSubnet: ec2.ISubnet;
  readonly clientSubnet: ec2.ISubnet;
  readonly dataSubnets: ec2.ISubnet[];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const vpc = new ec2.CfnVPC(this, 'Vpc', {
      cidrBlock: VPC_CIDR,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: [{ key: 'Name', value: 'nexo' }],
    });
    const igw = new ec2.CfnInternetGateway(this, 'InternetGateway', {
      tags: [{ key: 'Name', value: 'nexo' }],
    });
    const attach = new ec2.CfnVPCGatewayAttachment(this, 'GatewayAttachment', {
      vpcId: vpc.ref,
      internetGatewayId: igw.ref,
    });
    const publicRoutes = new ec2.CfnRouteTable(this, 'PublicRoutes', {
      vpcId: vpc.ref,
      tags: [{ key: 'Name', value: 'nexo-public' }],
    });
    const defaultRoute = new ec2.CfnRoute(this, 'DefaultRoute', {
      routeTableId: publicRoutes.ref,
      destinationCidrBlock: '0.0.0.0/0',
      gatewayId: igw.ref,
    });
    defaultRoute.node.addDependency(attach);
    const privateRoutes = new ec2.CfnRouteTable(this, 'PrivateRoutes', {
      vpcId: vpc.ref,
      tags: [{ key: 'Name', value: 'nexo-data' }],
    });

    const zone = (i: number) => Fn.select(i, Fn.getAzs());
    const subnet = (name: string, cidrBlock: string, az: number, routes: ec2.CfnRouteTable, pub: boolean) => {
      const s = new ec2.CfnSubnet(this, `${name}Subnet`, {
        vpcId: vpc.ref,
        cidrBlock,
        availabilityZone: zone(az),
        mapPublicIpOnLaunch: pub,
        tags: [{ key: 'Name', value: `nexo-${name.toLowerCase()}` }],
      });
      new ec2.CfnSubnetRouteTableAssociation(this, `${name}Routes`, {
        subnetId: s.ref,
        routeTableId: routes.ref,
      });
      return ec2.Subnet.fromSubnetAttributes(this, `${name}Ref`, {
        subnetId: s.ref,
        availabilityZone: zone(az),
        routeTableId: routes.ref,
        ipv4CidrBlock: cidrBlock,
      });
    };
    this.serverSubnet = subnet('Server', SERVER_SUBNET, 0, publicRoutes, true);
    this.clientSubnet = subnet('Client', CLIENT_SUBNET, 0, publicRoutes, true);
    this.dataSubnets = DATA_SUBNETS.map((c, i) => subnet(`Data${i + 1}`, c, i, privateRoutes, false));

    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'VpcRef', {
      vpcId: vpc.ref,
      vpcCidrBlock: VPC_CIDR,
      availabilityZones: [zone(0), zone(1)],
      publicSubnetIds: [this.serverSubnet.subnetId, this.clientSubnet.subnetId],
      publicSubnetRouteTableIds: [publicRoutes.ref, publicRoutes.ref],
      isolatedSubnetIds: this.dataSubnets.map((s) => s.subnetId),
      isolatedSubnetRouteTableIds: [privateRoutes.ref, privateRoutes.ref],
    });
  }
}
