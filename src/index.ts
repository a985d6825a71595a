/**
 * nexo: the public entry. Everything a user or an extension needs is exported here by name; anything else is
 * internal and may change.
 */

// Client
export * from './client/index.js';
export {
  type Access,
  type CallContext,
  type ChunkSource,
  defineMethod,
  type LiveLineAction,
  type MethodDefinition,
  type NodeView,
  type ServiceDefinition,
  type ServiceFactory,
  type ServiceHost,
  type ServiceStats,
  type TextCommand,
} from './contract/service.js';
export type { Session } from './contract/session.js';
// Errors: one registry for protocol, CLI and HTTP
export {
  type AnyErrorCode,
  ERRORS,
  type ErrorCode,
  type ErrorPayload,
  type ErrorSpec,
  NexoError,
} from './errors.js';
// Server
export { type CloseOptions, NexoNode, type NodeExtras } from './node/node.js';
export {
  DEFAULTS,
  OptionsError,
  resolveOptions,
  type ServerOptions,
  type ServerOptionsInput,
} from './options/options.js';
// Protocol (for other implementations and tools)
export * as protocol from './protocol/index.js';
// Services
export type { FileCatalog } from './services/files/catalog.js';
export type { BlobReader, FileStore, PartialFile } from './services/files/store.js';
export {
  builtinServices,
  calcService,
  chatService,
  echoService,
  filesService,
  greetService,
  nodeService,
  telemetryService,
} from './services/index.js';
