import { calcService } from './calc/index.js';
import { echoService } from './echo/index.js';
import { greetService } from './greet/index.js';
import type { ServiceFactory } from './types.js';

/** The services every node runs unless told otherwise. */
export function builtinServices(): ServiceFactory[] {
  return [calcService, greetService, echoService];
}

export { calcService, echoService, greetService };
