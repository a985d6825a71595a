import type { RestModule } from '../types.js';
import { calcRest } from './calc.js';
import { chatRest } from './chat.js';
import { filesRest } from './files.js';
import { greetRest } from './greet.js';
import { nodeRest } from './node.js';
import { telemetryRest } from './telemetry.js';

/**
 * Explicit REST routes of the built-in services; each is added only when the node runs its service. A new
 * service with HTTP-specific needs (CSV, uploads, Range downloads) adds its module here.
 */
export const BUILTIN_REST_MODULES: readonly RestModule[] = [
  calcRest,
  greetRest,
  chatRest,
  nodeRest,
  telemetryRest,
  filesRest,
];
