// Limits on hyperlight-js handler calls as composable values, with the names and semantics of
// the Rust crate's monitors: `wallClock` and `cpuTime` are the binding's native monitors;
// `signal` is the binding's AbortSignal option; `hostCallBudget` and `monitor(...)` run on the
// Node main thread; `anyOf` races them.

export {
  ERR_MONITOR_START,
  type MonitorCancelledError,
  MonitorStartError,
} from './errors';
export {
  anyOf,
  cpuTime,
  type HostCallEvent,
  hostCallBudget,
  isMonitor,
  isMonitorSet,
  MAX_LIMIT_MS,
  type Monitor,
  type MonitorContext,
  type MonitorInput,
  type MonitorSet,
  type MonitorStart,
  monitor,
  type OutputEvent,
  type SignalMonitorOptions,
  signal,
  wallClock,
} from './monitor';
export { type CallObserver, createCallObserver } from './observer';
export {
  type MonitoredCallOptions,
  type MonitoredCallStats,
  type MonitoredSandbox,
  type MonitorSandboxOptions,
  monitorSandbox,
  type TerminationEvent,
  type TerminationHook,
} from './run';
