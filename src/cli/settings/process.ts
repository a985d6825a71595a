import type { Setting } from './setting.js';

/** The node process: worker threads and logging. */
export const PROCESS_SETTINGS: readonly Setting[] = [
  {
    path: 'workers.threads',
    flag: '--workers <n>',
    env: 'NEXO_WORKERS',
    help: 'worker threads for heavy work (default cores - 1)',
    kind: 'int',
  },
  {
    path: 'log.level',
    flag: '--log-level <level>',
    env: 'NEXO_LOG_LEVEL',
    help: 'trace, debug, info, warn, error or silent (default info)',
    kind: 'string',
  },
];
