import { App } from 'aws-cdk-lib';
import { NexoStack } from './stack.js';

// `npm run synth` / `npx cdk deploy` (cdk.json runs this file with tsx). Settings: infra/config.ts.
const app = new App();
new NexoStack(app, 'Nexo', { description: 'nexo: HAProxy, three nodes with NATS, PostgreSQL, two sensors' });
app.synth();
