import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { InfraConfig } from './config.js';
import type { Database } from './database.js';
import { nexoInstance } from './instance.js';
import { natsVars } from './nats.js';
import type { Network } from './network.js';
import { NODE_IPS } from './network.js';
import { POSTGRES_PORT } from './ports.js';
import { type Source, secretField } from './user-data.js';

/**
 * Three nexo nodes in the server subnet, each also one of the three NATS servers
 * (install.sh ROLE=nats,node), sharing PostgreSQL (`--storage postgres`).
 */
export class Nodes extends Construct {
  readonly instances: ec2.Instance[];

  constructor(
    scope: Construct,
    id: string,
    props: {
      network: Network;
      group: ec2.SecurityGroup;
      config: InfraConfig;
      source: Source;
      database: Database;
    },
  ) {
    super(scope, id);
    const db = props.database;
    this.instances = NODE_IPS.map((ip, i) => {
      const instance = nexoInstance(this, `Node${i + 1}`, {
        network: props.network,
        subnet: props.network.serverSubnet,
        privateIp: ip,
        group: props.group,
        config: props.config,
        source: props.source,
        role: 'node',
        name: `nexo-node${i + 1}`,
        vars: { ROLE: 'nats,node', NODE_ID: `node${i + 1}`, ...natsVars(i) },
        shellVars: {
          PG_PASSWORD: secretField(db.secret.secretArn, 'password'),
          POSTGRES_URL: `"postgres://nexo:\${PG_PASSWORD}@${db.host}:${POSTGRES_PORT}/nexo${db.urlParams}"`,
        },
      });
      db.secret.grantRead(instance.role);
      return instance;
    });
  }
}
