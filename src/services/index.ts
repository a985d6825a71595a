import type { ServiceFactory } from '../contract/service.js';
import { calcService } from './calc/index.js';
import { chatService } from './chat/index.js';
import { echoService } from './echo/index.js';
import { filesService } from './files/index.js';
import { greetService } from './greet/index.js';
import { nodeService } from './node/index.js';
import { telemetryService } from './telemetry/index.js';

/** The services every node runs unless told otherwise. */
export function builtinServices(): ServiceFactory[] {
  return [
    calcService,
    greetService,
    echoService,
    telemetryService,
    (host) => filesService(host),
    chatService,
    nodeService,
  ];
}

export { calcService, chatService, echoService, filesService, greetService, nodeService, telemetryService };
