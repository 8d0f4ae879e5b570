// @hyperlight/host-modules: typed, validated host modules for hyperlight-js sandboxes (arguments
// checked with Standard Schema before the implementation runs, per-function timeouts, the guest's
// synchronous view of the types) and ready capability modules: fetch, kv, log, env.

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
