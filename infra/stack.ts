import path from 'node:path';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { balancer } from './balancer.js';
import { readConfig } from './config.js';
import { Database } from './database.js';
import { allowNatsCluster } from './nats.js';
import { Network } from './network.js';
import { Nodes } from './nodes.js';
import { HTTP_PORT, PROTOCOL_PORT } from './ports.js';
import { Security } from './security.js';
import { sensors } from './sensors.js';
import type { Source } from './user-data.js';

const REPO = path.resolve(import.meta.dirname, '..');

/**
 * The whole system: network, HAProxy, three nodes (each a NATS server too), PostgreSQL, two sensors.
 * Environment-agnostic (no account/region, no lookups), so `cdk synth` runs offline.
 */
export class NexoStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const config = readConfig(this.node);
    const source: Source = config.source
      ? { git: config.source }
      : {
          // this checkout, zipped at synth time; instances download it from the CDK assets bucket
          asset: new s3assets.Asset(this, 'Source', {
            path: REPO,
            exclude: [
              'node_modules',
              'dist',
              'dist-*',
              'cdk.out',
              '.git',
              'nexo-data',
              'test-results',
              '*.log',
            ],
          }),
        };
    const network = new Network(this, 'Network');
    const security = new Security(this, 'Security', network.vpc, config);
    allowNatsCluster(security.nodes);
    const database = new Database(this, 'Database', { network, group: security.database, config, source });
    const nodes = new Nodes(this, 'Nodes', { network, group: security.nodes, config, source, database });
    const haproxy = balancer(this, { network, group: security.balancer, config, source });
    const sensorInstances = sensors(this, { network, group: security.sensors, config, source });

    new CfnOutput(this, 'DashboardUrl', {
      value: `http://${haproxy.instancePublicDnsName}:${HTTP_PORT}/`,
      description: 'the dashboard, through HAProxy',
    });
    new CfnOutput(this, 'ProtocolEndpoint', {
      value: `${haproxy.instancePublicIp}:${PROTOCOL_PORT}`,
      description: 'nexo --server for the CLI and sensors',
    });
    new CfnOutput(this, 'HaproxyPublicIp', { value: haproxy.instancePublicIp });
    nodes.instances.forEach((n, i) => {
      new CfnOutput(this, `Node${i + 1}PublicIp`, { value: n.instancePublicIp });
    });
    sensorInstances.forEach((s, i) => {
      new CfnOutput(this, `Sensor${i + 1}PublicIp`, { value: s.instancePublicIp });
    });
    new CfnOutput(this, 'DatabaseHost', { value: database.host });
    new CfnOutput(this, 'DatabaseSecretArn', { value: database.secret.secretArn });
  }
}
