import { calcService } from './calc/index.js';
import { echoService } from './echo/index.js';
import { greetService } from './greet/index.js';
import { telemetryService } from './telemetry/index.js';
import type { ServiceFactory } from './types.js';

/** The services every node runs unless told otherwise. */
export function builtinServices(): ServiceFactory[] {
  return [calcService, greetService, echoService, telemetryService];
}

export { calcService, echoService, greetService, telemetryService };
