// Node.js API of hyperlight-js: run untrusted JavaScript handlers inside hardware-isolated KVM
// micro-VMs. The classes are the native binding's (crates/js-host-api), loaded on first use from
// the platform package (`@hyperlight/js-host-api-<triple>`) or the file named by
// `HYPERLIGHT_JS_NATIVE_PATH`; the loader explains what to do when there is none. The loader's
// own API is the `@hyperlight/js-host-api/loader` entry point.

export {
  type CancelledError,
  ERR_CANCELLED,
  ERR_CONSUMED,
  ERR_GUEST_ABORT,
  ERR_HANDLER,
  ERR_INTERNAL,
  ERR_INVALID_ARG,
  ERR_NO_HYPERVISOR,
  ERR_POISONED,
  type ErrorCode,
  ErrorCodes,
  type HandlerError,
  type HyperlightError,
  type HyperlightErrorOf,
  isHyperlightError,
  type TerminatedBy,
} from './error-codes';
export {
  type BindingSource,
  ERR_NO_NATIVE_BINDING,
  type LoadAttempt,
  NativeBindingError,
} from './errors';
export {
  checkHypervisor,
  type DeviceAccess,
  type HostInfo,
  type HypervisorCheck,
  type HypervisorProblem,
  type KvmInfo,
} from './hypervisor';
export { NATIVE_PATH_ENV } from './loader';
export {
  type CallHandlerOptions,
  type CallStats,
  type EvalScriptOptions,
  type HostFunction,
  HostModule,
  InterruptHandle,
  JSSandbox,
  type JsonValue,
  LoadedJSSandbox,
  type NativeClass,
  type PrintSink,
  ProtoJSSandbox,
  SandboxBuilder,
  type SandboxLoadOptions,
  Snapshot,
} from './types';
