import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secrets from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { InfraConfig } from './config.js';
import { nexoInstance } from './instance.js';
import type { Network } from './network.js';
import { POSTGRES_IP, SERVER_SUBNET } from './network.js';
import { POSTGRES_PORT } from './ports.js';
import { type Source, secretField } from './user-data.js';

/**
 * PostgreSQL for the shared telemetry/chat/files metadata: RDS by default, or an Ubuntu instance set
 * up by install.sh ROLE=postgres with `--context rds=false`. Either way the password is generated into
 * Secrets Manager and read at boot by whoever needs it: it never appears in the template or user data.
 */
export class Database extends Construct {
  readonly secret: secrets.Secret;
  /** Host name or address of the server (a token until deploy). */
  readonly host: string;
  /** Query string for node-postgres: RDS forces TLS with Amazon's CA, not in Node's trust store. */
  readonly urlParams: string;

  constructor(
    scope: Construct,
    id: string,
    props: { network: Network; group: ec2.SecurityGroup; config: InfraConfig; source: Source },
  ) {
    super(scope, id);
    this.secret = new secrets.Secret(this, 'Password', {
      description: 'nexo PostgreSQL role (username nexo)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: 'nexo' }),
        generateStringKey: 'password',
        // the password goes into a postgres:// URL: letters and digits only
        excludePunctuation: true,
        passwordLength: 32,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if (props.config.rds) {
      const db = new rds.DatabaseInstance(this, 'Rds', {
        engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE3, ec2.InstanceSize.MICRO),
        vpc: props.network.vpc,
        vpcSubnets: { subnets: props.network.dataSubnets },
        securityGroups: [props.group],
        credentials: rds.Credentials.fromSecret(this.secret),
        databaseName: 'nexo',
        port: POSTGRES_PORT,
        allocatedStorage: 20,
        storageEncrypted: true,
        backupRetention: Duration.days(1),
        publiclyAccessible: false,
        // a lab deployment: `cdk destroy` removes it
        deletionProtection: false,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      this.host = db.dbInstanceEndpointAddress;
      this.urlParams = '?sslmode=no-verify';
    } else {
      const instance = nexoInstance(this, 'Instance', {
        network: props.network,
        subnet: props.network.serverSubnet,
        privateIp: POSTGRES_IP,
        group: props.group,
        config: props.config,
        source: props.source,
        role: 'postgres',
        name: 'nexo-postgres',
        vars: { ROLE: 'postgres', PG_ALLOW: SERVER_SUBNET },
        shellVars: { PG_PASSWORD: secretField(this.secret.secretArn, 'password') },
      });
      this.secret.grantRead(instance.role);
      this.host = POSTGRES_IP;
      this.urlParams = '';
    }
  }
}
