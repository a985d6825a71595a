import type { FuzzTarget } from '../engine.js';
import { frameDecoder } from './frame-decoder.js';
import { httpRange, multipart } from './http.js';
import { payload } from './payload.js';
import { textMode, textSession } from './text-mode.js';
import { udpChannel, udpEndpoint, udpRecord } from './udp.js';

/** Every fuzz target, in the order `npm run fuzz` runs them. */
export const TARGETS: readonly FuzzTarget<never>[] = [
  frameDecoder,
  payload,
  textMode,
  textSession,
  httpRange,
  multipart,
  udpRecord,
  udpChannel,
  udpEndpoint,
] as unknown as FuzzTarget<never>[];
