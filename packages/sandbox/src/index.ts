// The core lifecycle of hyperlight-js: from one definition to sandboxes that stay healthy.
// `createSandbox` makes a loaded, snapshotted sandbox with a reset policy; `createPool` serves
// calls from N of them behind a bounded FIFO queue. Limits come from @hyperlight/monitors.

export {
  type AnyHandlers,
  defineSandbox,
  type EventOf,
  type HandlerFunction,
  type HandlerName,
  type HostModuleCallContext,
  type HostModuleInstallation,
  type HostModuleLike,
  type PrintLevel,
  type ResultOf,
  type SandboxDefinition,
  type SandboxPrintSink,
  type SandboxSizes,
} from './definition';
export {
  ERR_CLOSED,
  ERR_QUEUE_FULL,
  ERR_QUEUE_TIMEOUT,
  isSandboxError,
  type QueueFullError,
  type QueueTimeoutError,
  type SandboxCancelledError,
  type SandboxError,
  type SandboxErrorCode,
  SandboxErrorCodes,
  type SandboxErrorOf,
} from './errors';
export {
  createPool,
  type Pool,
  type PoolHooks,
  type PoolOptions,
  type PoolStats,
  type ReplaceEvent,
  type ReplaceReason,
} from './pool';
export {
  type CallEvent,
  type CallOptions,
  createSandbox,
  type HandlerCaller,
  type ResetEvent,
  type ResetPolicy,
  type ResetReason,
  type Sandbox,
  type SandboxCallStats,
  type SandboxHooks,
  type SandboxOptions,
  type SandboxTerminationEvent,
} from './sandbox';
