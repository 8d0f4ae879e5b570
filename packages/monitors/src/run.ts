import {
  type CallHandlerOptions,
  type CallStats,
  ERR_CANCELLED,
  type LoadedJSSandbox,
} from '@hyperlight/js-host-api';
import { cancelledBy, describe, invalidArg, MonitorStartError } from './errors';
import type { HostCallEvent, Monitor, MonitorContext, MonitorInput, OutputEvent } from './monitor';
import { flatten } from './monitor';
import { type CallObserver, type ObservedCall, observerState } from './observer';

/**
 * What the termination hook receives when a monitor ends a call: enough to feed a metric such as
 * the Rust crate's `monitor_terminations_total{monitor_type}`.
 * @public
 */
export interface TerminationEvent {
  /** The monitor that ended the call (`'wall-clock'`, `'cpu-time'`, or a custom name). */
  readonly monitor: string;
  /** The routing key of the handler that was called. */
  readonly handler: string;
  /** Wall-clock milliseconds from the call's start to its end. */
  readonly elapsedMs: number;
  /** Whether the handler had started (`false` when a monitor fired while monitors started). */
  readonly handlerStarted: boolean;
}

/**
 * Called once for each call that a monitor ended, after the call has ended and before its
 * Promise rejects. An exception thrown by the hook is reported with `process.emitWarning` and
 * does not change the call's outcome.
 * @public
 */
export type TerminationHook = (event: TerminationEvent) => void;

/**
 * Statistics of a monitored call: the binding's `CallStats` (`@hyperlight/js-host-api`), with
 * `terminatedBy` naming whichever monitor (native or custom) ended the call, plus what the
 * observer saw.
 * @public
 */
export interface MonitoredCallStats extends Omit<CallStats, 'terminatedBy'> {
  /**
   * What ended the call: the name of the monitor that fired first (`'wall-clock'`, `'cpu-time'`,
   * a signal monitor's name (`'abort'` by default), `'host-call-budget'` or a custom monitor's
   * name), or `null` when it ended by itself or by `interruptHandle.kill()`.
   */
  readonly terminatedBy: string | null;
  /** Host calls the guest made during the call (counted when an observer is attached). */
  readonly hostCalls: number;
  /** Bytes of guest output during the call (counted when an observer is attached and fed). */
  readonly outputBytes: number;
}

/**
 * Options of {@link monitorSandbox}.
 * @public
 */
export interface MonitorSandboxOptions {
  /**
   * The observer the sandbox's host functions (and print sink) were registered through. Without
   * it, a call whose monitors listen for host calls or output (`hostCallBudget`, a custom
   * monitor's `onHostCall`/`onOutput`) is refused with `ERR_INVALID_ARG` before it runs, and so
   * is an output monitor when the observer is not the print sink (see {@link CallObserver}).
   * @defaultValue none
   */
  observer?: CallObserver;
  /**
   * Called when a monitor ends a call.
   * @defaultValue none
   */
  onTermination?: TerminationHook;
}

/**
 * Options of one monitored call.
 * @public
 */
export interface MonitoredCallOptions {
  /**
   * The call's monitors.
   * @defaultValue none: the call is not monitored
   */
  monitors?: MonitorInput;
  /**
   * Whether to run the guest's garbage collector after the call.
   * @defaultValue true
   */
  gc?: boolean;
}

/**
 * A `LoadedJSSandbox` whose calls are watched by monitors from this package.
 * @public
 */
export interface MonitoredSandbox {
  /** The sandbox the calls go to. */
  readonly sandbox: LoadedJSSandbox;
  /**
   * Calls `handler` with `event` under `options.monitors`. Monitored calls on one
   * `MonitoredSandbox` run one at a time, in order (a custom monitor's `kill()` then always
   * reaches its own call). Rejects like `callHandler`, and: `ERR_CANCELLED` with `terminatedBy`
   * naming the monitor that fired first; `ERR_MONITOR_START` when a monitor failed to start (the
   * handler did not run); `ERR_INVALID_ARG` for something that is not a monitor, for an
   * unknown key of `options` (the message names it and the known ones) or a `gc` that is not a
   * boolean, and for a monitor listening for host calls or output that this sandbox cannot
   * report (no observer; no print sink through the observer); the handler did not run. `R` is the
   * result type you expect (unchecked: results come from untrusted code).
   */
  call<R = unknown>(handler: string, event: unknown, options?: MonitoredCallOptions): Promise<R>;
  /** Statistics of the most recent monitored call; `null` before the first. */
  readonly lastCallStats: MonitoredCallStats | null;
}

/** Interval of the retried kill while the binding has not started the call yet. */
const KILL_RETRY_MS = 1;

interface Listener<E> {
  readonly monitor: string;
  readonly fn: (event: E) => void;
}

interface Listeners {
  host: Array<Listener<HostCallEvent>>;
  output: Array<Listener<OutputEvent>>;
}

/**
 * Watches the calls of a bare `LoadedJSSandbox` with monitors: `wallClock`/`cpuTime` become the
 * binding's native limits, custom monitors (`signal`, `hostCallBudget`, `monitor(...)`) run on
 * the main thread and stop the call with its `interruptHandle`.
 *
 * Calls made directly on `loaded` while a monitored call is queued or running are not watched,
 * and a custom monitor's kill could reach them: make every call of a sandbox through one
 * `MonitoredSandbox`.
 *
 * @param loaded - the sandbox.
 * @param options - the observer its host functions were registered through, the termination hook.
 * @public
 */
export function monitorSandbox(
  loaded: LoadedJSSandbox,
  options: MonitorSandboxOptions = {},
): MonitoredSandbox {
  if (typeof loaded !== 'object' || loaded === null || typeof loaded.callHandler !== 'function') {
    throw invalidArg('monitorSandbox() takes a LoadedJSSandbox');
  }
  checkKeys(options, MONITOR_SANDBOX_OPTIONS, 'the options of monitorSandbox()');
  const { observer, onTermination } = options;
  if (onTermination !== undefined && typeof onTermination !== 'function') {
    throw invalidArg('onTermination must be a function');
  }
  const observed = observer === undefined ? null : observerState(observer);
  if (observed) {
    if (observed.owner !== null && observed.owner !== loaded) {
      throw invalidArg('this CallObserver already serves another sandbox; use one per sandbox');
    }
    observed.owner = loaded;
  }
  let tail: Promise<unknown> = Promise.resolve();
  let last: MonitoredCallStats | null = null;
  /** What a successful call left for `lastCallStats`, read lazily. */
  let pending: { hostCalls: number; outputBytes: number; elapsedMs: number } | null = null;

  const handle = loaded.interruptHandle;

  const run = async (
    handler: string,
    event: unknown,
    monitors: Monitor[],
    callOptions: MonitoredCallOptions,
  ) => {
    const native: CallHandlerOptions = {};
    if (callOptions.gc !== undefined) native.gc = callOptions.gc;
    const custom: Monitor[] = [];
    // Signal monitors become the binding's `signal` option (polite stop, then kill).
    let signals: Monitor[] | undefined;
    for (const m of monitors) {
      if (m.kind === 'wall-clock') {
        native.wallClockTimeoutMs = Math.min(native.wallClockTimeoutMs ?? Infinity, m.limitMs ?? 0);
      } else if (m.kind === 'cpu-time') {
        native.cpuTimeoutMs = Math.min(native.cpuTimeoutMs ?? Infinity, m.limitMs ?? 0);
      } else if (m.kind === 'signal') {
        signals ??= [];
        signals.push(m);
        if (m.gracePeriodMs !== null) {
          native.abortGracePeriodMs = Math.min(
            native.abortGracePeriodMs ?? Infinity,
            m.gracePeriodMs,
          );
        }
      } else custom.push(m);
    }

    const startedAt = performance.now();
    // Made only if a monitor asks for `context.signal`: an AbortController costs tens of µs.
    let controller: AbortController | undefined;
    let done = false;
    const listeners: Listeners = { host: [], output: [] };
    const cleanups: Array<() => void> = [];
    let killedBy: string | null = null;
    let killReason: unknown;
    let submitted = false;
    let hostCalls = 0;
    let outputBytes = 0;
    let retry: ReturnType<typeof setInterval> | undefined;
    /** Set when a monitor listens for events that this sandbox cannot report. */
    let unobservable: Error | undefined;

    const dispatch = <E>(list: Array<Listener<E>>, e: E) => {
      for (const listener of list) {
        if (done) return;
        try {
          listener.fn(e);
        } catch (error) {
          // A monitor that cannot observe must not let the call run unobserved: fail closed.
          kill(listener.monitor, error);
        }
      }
    };
    const kill = (name: string, reason: unknown) => {
      if (done || killedBy !== null) return;
      // A signal that aborted first is ending the call through the binding (politely first).
      if (signals !== undefined && firstAborted(signals) !== undefined) return;
      killedBy = name;
      killReason = reason;
      if (!submitted) return;
      // kill() returns true once it reached the call (running, or queued with a binding that
      // cancels queued calls). Otherwise the call may not have reached the sandbox's thread yet:
      // repeat until a kill reaches it or the call ends. Calls on this MonitoredSandbox are
      // serialised, so a repeated kill can never reach the next call.
      const attempt = () => {
        if (handle.kill() === true && retry !== undefined) {
          clearInterval(retry);
          retry = undefined;
        }
      };
      if ((handle.kill() as unknown) !== true) retry = setInterval(attempt, KILL_RETRY_MS);
    };
    const call: ObservedCall = {
      hostCall(module, name) {
        hostCalls++;
        if (listeners.host.length === 0) return;
        const e = { module, function: name, count: hostCalls, elapsedMs: elapsed() };
        dispatch(listeners.host, e);
      },
      output(level, bytes) {
        outputBytes += bytes;
        if (listeners.output.length === 0) return;
        const e = { level, bytes, totalBytes: outputBytes, elapsedMs: elapsed() };
        dispatch(listeners.output, e);
      },
      get killedBy() {
        return killedBy;
      },
    };
    const elapsed = () => performance.now() - startedAt;
    const finish = () => {
      done = true;
      controller?.abort();
      if (retry !== undefined) clearInterval(retry);
      if (observed && observed.current === call) observed.current = null;
      for (const cleanup of cleanups.reverse()) {
        try {
          cleanup();
        } catch (error) {
          process.emitWarning(`a monitor's cleanup threw: ${describe(error)}`);
        }
      }
      listeners.host.length = 0;
      listeners.output.length = 0;
    };

    // An already aborted signal fired before the call: nothing starts, the handler never runs.
    if (signals !== undefined) {
      const aborted = firstAborted(signals);
      if (aborted !== undefined) {
        killedBy = aborted.name;
        killReason = (aborted.signal as AbortSignal).reason;
      } else {
        native.signal =
          signals.length === 1
            ? ((signals[0] as Monitor).signal as AbortSignal)
            : AbortSignal.any(signals.map((m) => m.signal as AbortSignal));
      }
    }
    // Start every custom monitor before the handler runs; one failure and nothing runs.
    for (const m of killedBy === null ? custom : []) {
      const context: MonitorContext = {
        monitor: m.name,
        handler,
        startedAt,
        elapsedMs: elapsed,
        get hostCalls() {
          return hostCalls;
        },
        get outputBytes() {
          return outputBytes;
        },
        get signal() {
          controller ??= new AbortController();
          if (done) controller.abort();
          return controller.signal;
        },
        onHostCall(listener) {
          if (observed === null) unobservable ??= noObserver(m.name, 'host calls');
          if (!done) listeners.host.push({ monitor: m.name, fn: listener });
        },
        onOutput(listener) {
          if (observed === null) unobservable ??= noObserver(m.name, 'guest output');
          else if (!observed.outputWired) unobservable ??= noPrintSink(m.name);
          if (!done) listeners.output.push({ monitor: m.name, fn: listener });
        },
        kill: (reason?: unknown) => kill(m.name, reason),
      };
      let cleanup: unknown;
      try {
        cleanup = m.start?.(context);
        if (cleanup !== undefined && typeof cleanup !== 'function') {
          throw new TypeError(
            typeof (cleanup as { then?: unknown } | null)?.then === 'function'
              ? 'start returned a Promise; a monitor must start synchronously'
              : 'start must return nothing or a cleanup function',
          );
        }
      } catch (error) {
        finish();
        pending = null;
        last = {
          wallClockMs: elapsed(),
          cpuTimeMs: null,
          terminatedBy: null,
          hostCalls,
          outputBytes,
        };
        throw new MonitorStartError(m.name, handler, error);
      }
      if (typeof cleanup === 'function') cleanups.push(cleanup as () => void);
      if (unobservable !== undefined) {
        // It would silently see nothing: refuse the call before anything runs.
        finish();
        pending = null;
        throw unobservable;
      }
    }
    if (killedBy !== null) {
      // A monitor fired while starting (e.g. an aborted signal): the handler never runs.
      finish();
      pending = null;
      last = {
        wallClockMs: elapsed(),
        cpuTimeMs: null,
        terminatedBy: killedBy,
        hostCalls,
        outputBytes,
      };
      report(killedBy, handler, elapsed(), false);
      throw cancelledBy(killedBy, handler, false, false, killReason);
    }

    if (observed) observed.current = call;
    submitted = true;
    let failure: unknown;
    let result: unknown;
    let ok = false;
    try {
      result = await loaded.callHandler(handler, event, native);
      ok = true;
    } catch (error) {
      failure = error;
    } finally {
      finish();
    }
    if (ok) {
      // Read from the binding only when asked for (a getter crossing into native code).
      last = null;
      pending = { hostCalls, outputBytes, elapsedMs: elapsed() };
      return result;
    }
    const stats = loaded.lastCallStats;
    const cancelled = (failure as { code?: unknown } | null)?.code === ERR_CANCELLED;
    const won = cancelled
      ? winner((failure as { terminatedBy?: unknown }).terminatedBy, killedBy, signals, native)
      : null;
    const terminatedBy = won === null ? null : typeof won === 'string' ? won : won.name;
    const wallClockMs = stats?.wallClockMs ?? elapsed();
    last = {
      wallClockMs,
      cpuTimeMs: stats?.cpuTimeMs ?? null,
      terminatedBy,
      hostCalls,
      outputBytes,
    };
    pending = null;
    if (cancelled && terminatedBy !== null) {
      // A signal's polite stop leaves the sandbox usable; a kill poisons it.
      const poisoned = loaded.poisoned;
      report(terminatedBy, handler, wallClockMs, true);
      const cause =
        typeof won === 'object' && won !== null
          ? (won.signal as AbortSignal).reason
          : killedBy !== null && terminatedBy === killedBy
            ? killReason
            : failure;
      throw cancelledBy(terminatedBy, handler, true, poisoned, cause);
    }
    throw failure;
  };

  const report = (monitor: string, handler: string, elapsedMs: number, handlerStarted: boolean) => {
    if (!onTermination) return;
    try {
      onTermination({ monitor, handler, elapsedMs, handlerStarted });
    } catch (error) {
      process.emitWarning(`the onTermination hook threw: ${describe(error)}`);
    }
  };

  return {
    sandbox: loaded,
    call<R>(handler: string, event: unknown, callOptions: MonitoredCallOptions = {}): Promise<R> {
      let monitors: Monitor[];
      try {
        checkCallOptions(callOptions);
        monitors = flatten([callOptions.monitors], 'monitors');
      } catch (error) {
        return Promise.reject(error);
      }
      const go = () => run(handler, event, monitors, callOptions) as Promise<R>;
      const next = tail.then(go, go);
      tail = next.catch(() => undefined);
      return next;
    },
    get lastCallStats() {
      if (pending !== null) {
        const stats = loaded.lastCallStats;
        last = {
          wallClockMs: stats?.wallClockMs ?? pending.elapsedMs,
          cpuTimeMs: stats?.cpuTimeMs ?? null,
          terminatedBy: null,
          hostCalls: pending.hostCalls,
          outputBytes: pending.outputBytes,
        };
        pending = null;
      }
      return last;
    },
  };
}

const MONITOR_SANDBOX_OPTIONS = ['observer', 'onTermination'];
const CALL_OPTIONS = ['monitors', 'gc'];

/** `ERR_INVALID_ARG` unless `options` is an object (or `undefined`) with only `known` keys. */
function checkKeys(options: unknown, known: readonly string[], what: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null)
    throw invalidArg(`${what} must be an object`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw invalidArg(
        `${what} has an unknown key ${JSON.stringify(key)}; known: ${known.join(', ')}`,
      );
    }
  }
}

/** Checks the options of a monitored call: known keys, a boolean `gc`. */
function checkCallOptions(options: unknown): void {
  checkKeys(options, CALL_OPTIONS, 'the options of call()');
  const gc = (options as MonitoredCallOptions | undefined)?.gc;
  if (gc !== undefined && typeof gc !== 'boolean') {
    throw invalidArg(`the options of call(): gc must be a boolean, not ${typeof gc}`);
  }
}

/** The refusal of a monitor that needs an observer on a sandbox monitored without one. */
function noObserver(monitorName: string, what: string): Error {
  return invalidArg(
    `the \`${monitorName}\` monitor watches ${what}, but this sandbox was monitored without an ` +
      'observer, so it would see none: create one with createCallObserver(), register the ' +
      "sandbox's host functions through observer.instrument(proto) (and its print sink through " +
      'observer.printSink(next)) before loadRuntime(), and pass { observer } to monitorSandbox() ' +
      '(a sandbox of @hyperlight/sandbox has one already); the call did not run',
  );
}

/** The refusal of an output monitor whose observer never received a print sink's lines. */
function noPrintSink(monitorName: string): Error {
  return invalidArg(
    `the \`${monitorName}\` monitor watches guest output, but the observer of this sandbox is ` +
      'not its print sink, so it would see none: build the sandbox with ' +
      'builder.setPrintSink(observer.printSink(next)) (with @hyperlight/sandbox: give the ' +
      'definition a printSink); the call did not run',
  );
}

/** The first signal monitor whose signal has aborted, if any. */
function firstAborted(signals: readonly Monitor[]): Monitor | undefined {
  return signals.find((m) => m.signal?.aborted === true);
}

/**
 * The monitor that ended a cancelled call (the signal monitor itself when a signal did, for its
 * reason). The binding names its own monitors (`'wall-clock'`,
 * `'cpu-time'`, `'abort'` for its signal; `null` for `kill()`). A custom monitor that fired while
 * no signal had aborted (`killedBy`) came first, even when an abort arrived before the call
 * settled (the binding reports `'abort'` then); `'abort'` otherwise names the signal monitor
 * whose signal aborted (with several, the one whose `reason` the combined signal took).
 */
function winner(
  byBinding: unknown,
  killedBy: string | null,
  signals: readonly Monitor[] | undefined,
  native: CallHandlerOptions,
): string | Monitor | null {
  if (byBinding === 'wall-clock' || byBinding === 'cpu-time') return byBinding;
  if (killedBy !== null) return killedBy;
  if (byBinding === 'abort' && signals !== undefined) {
    const reason = native.signal?.reason;
    const m =
      signals.find((s) => s.signal?.aborted === true && s.signal.reason === reason) ??
      firstAborted(signals);
    if (m !== undefined) return m;
  }
  return typeof byBinding === 'string' ? byBinding : null;
}
