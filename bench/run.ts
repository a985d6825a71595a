/**
 * `npm run bench`: every capability next to its ceiling, measured in the same run. Select with
 * `npm run bench -- protocol` (names: protocol, telemetry, telemetry-pg, chat-cross, files, files-shared, web, udp, metrics, failover, tls, cluster, client-path, idle). BENCH_SECONDS sets the measuring time per case.
 */
import os from 'node:os';
import { benchChatCross } from './chat-cross.js';
import { benchClientPath } from './client-path.js';
import { benchCluster } from './cluster.js';
import { benchFailover } from './failover.js';
import { benchFiles } from './files.js';
import { benchFilesShared } from './files-shared.js';
import { benchIdle } from './idle.js';
import { benchMetrics } from './metrics.js';
import { benchProtocol } from './protocol.js';
import { benchTelemetry } from './telemetry.js';
import { benchTelemetryPostgres } from './telemetry-postgres.js';
import { benchTls } from './tls.js';
import { benchUdp } from './udp.js';
import { benchWeb } from './web.js';

const suites: Record<string, () => Promise<{ text: string }>> = {
  protocol: benchProtocol,
  telemetry: benchTelemetry,
  'telemetry-pg': benchTelemetryPostgres,
  'chat-cross': benchChatCross,
  files: benchFiles,
  'files-shared': benchFilesShared,
  web: benchWeb,
  udp: benchUdp,
  cluster: benchCluster,
  metrics: benchMetrics,
  failover: benchFailover,
  tls: benchTls,
  'client-path': benchClientPath,
  idle: benchIdle,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : Object.keys(suites);
console.log(`nexo bench on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`);
for (const name of names) {
  const suite = suites[name];
  if (suite === undefined) {
    console.error(`unknown bench '${name}'; choose from ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  console.log(`== ${name}`);
  const { text } = await suite();
  console.log(`${text}\n`);
}
