import { calcService } from './calc/index.js';
import { echoService } from './echo/index.js';
import { filesService } from './files/index.js';
import { greetService } from './greet/index.js';
import type { ServiceFactory } from './types.js';

/** The services every node runs unless told otherwise. */
export function builtinServices(): ServiceFactory[] {
  return [calcService, greetService, echoService, (host) => filesService(host)];
}

export { calcService, echoService, filesService, greetService };
