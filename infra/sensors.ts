import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { InfraConfig } from './config.js';
import { nexoInstance } from './instance.js';
import { HAPROXY_IP, type Network, SENSOR_IPS } from './network.js';
import { PROTOCOL_PORT } from './ports.js';
import type { Source } from './user-data.js';

/** The lab's two sensors, one per instance in the client subnet, reporting through HAProxy. */
export const SENSORS = [
  { id: 's1', metric: 'temperature', every: '2s' },
  { id: 's2', metric: 'humidity', every: '3s' },
] as const;

export function sensors(
  scope: Construct,
  props: { network: Network; group: ec2.SecurityGroup; config: InfraConfig; source: Source },
): ec2.Instance[] {
  return SENSORS.map((s, i) =>
    nexoInstance(scope, `Sensor${i + 1}`, {
      ...props,
      subnet: props.network.clientSubnet,
      privateIp: SENSOR_IPS[i]!,
      role: 'sensor',
      name: `nexo-sensor-${s.id}`,
      vars: {
        ROLE: 'sensor',
        SERVER: `${HAPROXY_IP}:${PROTOCOL_PORT}`,
        SENSORS: `${s.id}:${s.metric}:${s.every}`,
      },
    }),
  );
}
