// @hyperlight/host-modules: typed, validated host modules for hyperlight-js sandboxes (arguments
// checked with Standard Schema before the implementation runs, per-function timeouts, the guest's
// synchronous view of the types) and ready capability modules: fetch, kv, log, env.

export {
  type EnvFunctions,
  type EnvModuleOptions,
  type EnvValue,
  envModule,
} from './capabilities/env';
export {
  type FetchFunctions,
  type FetchModuleOptions,
  type FetchRule,
  fetchModule,
  type GuestRequestInit,
  type GuestResponse,
} from './capabilities/fetch';
export { type KvFunctions, type KvModuleOptions, type KvStore, kvModule } from './capabilities/kv';
export {
  consoleLogger,
  type LogCallContext,
  type LogFunctions,
  type LogInstallation,
  type LogLevel,
  type LogModule,
  type LogModuleOptions,
  type LogStats,
  logModule,
  type StructuredLogger,
} from './capabilities/log';
export type { CapabilitySchema } from './capabilities/schema';
export { declareHostModules } from './declaration';
export {
  type ArgumentSchemas,
  defineHostModule,
  type HostCallContext,
  type HostFunctionDefinition,
  type HostFunctionEntry,
  type HostFunctionImplementation,
  type HostFunctionSpec,
  type HostFunctions,
  type HostModuleDefinition,
  type HostModuleOptions,
  hostFunction,
  type InferArguments,
  installHostModules,
  type PlainHostFunction,
} from './define';
export {
  HostCallError,
  type HostCallErrorCode,
  type HostCallIssue,
  HostModuleDefinitionError,
} from './errors';
export type {
  GuestFunction,
  GuestFunctions,
  GuestModule,
  GuestParameters,
  JsonDropped,
  Jsonified,
  JsonifiedObject,
  JsonifiedValue,
  JsonOptionalKey,
  JsonRequiredKey,
  JsonValue,
  OptionalTail,
} from './guest-types';
