import { invalidArg } from './errors';

/**
 * The longest limit the native monitors accept, in milliseconds: one hour (the binding's
 * `wallClockTimeoutMs`/`cpuTimeoutMs` range is 1 to 3,600,000).
 * @public
 */
export const MAX_LIMIT_MS = 3_600_000;

/**
 * What a host function call looks like to a monitor: one event per call the guest makes to a
 * host function registered through a {@link CallObserver}, delivered before the host function
 * runs.
 * @public
 */
export interface HostCallEvent {
  /** The host module, as imported in the guest (`host:<module>`). */
  readonly module: string;
  /** The function's name in that module. */
  readonly function: string;
  /** The host calls of this handler call so far, this one included (1 for the first). */
  readonly count: number;
  /** Milliseconds since the call started (`performance.now()` clock). */
  readonly elapsedMs: number;
}

/**
 * What a line of guest output looks like to a monitor: one event per line the guest prints
 * (`console.*`, `print`), when the sandbox's print sink goes through a {@link CallObserver}.
 * @public
 */
export interface OutputEvent {
  /** The line's level as the print sink received it (e.g. `'info'`, `'error'`). */
  readonly level: string;
  /** The line's size in bytes (UTF-8). */
  readonly bytes: number;
  /** The output of this handler call so far in bytes, this line included. */
  readonly totalBytes: number;
  /** Milliseconds since the call started (`performance.now()` clock). */
  readonly elapsedMs: number;
}

/**
 * What a custom monitor's `start` receives: the call it watches, what happens in it, and a way
 * to end it. Valid for one call; once the call has ended, `signal` is aborted, listeners are
 * dropped and `kill()` does nothing.
 * @public
 */
export interface MonitorContext {
  /** This monitor's name (it becomes `terminatedBy` if this monitor ends the call). */
  readonly monitor: string;
  /** The routing key of the handler being called. */
  readonly handler: string;
  /** When the call started, in milliseconds on the `performance.now()` clock. */
  readonly startedAt: number;
  /** Milliseconds since the call started. */
  elapsedMs(): number;
  /** Host calls made by the guest in this call so far. */
  readonly hostCalls: number;
  /** Bytes of guest output in this call so far. */
  readonly outputBytes: number;
  /** Aborted when the call ends (for any reason): stop timers and listeners with it. */
  readonly signal: AbortSignal;
  /** Calls `listener` for every host call of this call, before the host function runs. */
  onHostCall(listener: (event: HostCallEvent) => void): void;
  /** Calls `listener` for every line of guest output of this call. */
  onOutput(listener: (event: OutputEvent) => void): void;
  /**
   * Ends the call: it rejects with `ERR_CANCELLED` and `terminatedBy` set to this monitor's name
   * (unless another monitor fired first). Called from `start` itself, the handler never runs and
   * the sandbox is not poisoned; called later, the micro-VM is stopped and the sandbox is
   * poisoned. A host call in progress finishes, a host call not yet begun does not run.
   * @param reason - kept as the rejection's `cause`.
   */
  kill(reason?: unknown): void;
}

/**
 * The start function of a custom monitor: runs synchronously just before the handler, on the
 * Node main thread. It may return a cleanup function, run when the call ends. A start that
 * throws (or returns a Promise) keeps the handler from running: `ERR_MONITOR_START`.
 * @public
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a start function may simply not return.
export type MonitorStart = (context: MonitorContext) => void | (() => void);

/**
 * One limit on a handler call, made by {@link wallClock}, {@link cpuTime}, {@link signal},
 * {@link hostCallBudget} or {@link monitor}. Immutable; use one value for as many calls and
 * sandboxes as you like.
 * @public
 */
export interface Monitor {
  /** The name reported as `terminatedBy` when this monitor ends a call. */
  readonly name: string;
  /**
   * `'wall-clock'`, `'cpu-time'` and `'signal'` are enforced by the binding (its native monitors
   * and its `signal` option, on the sandbox's own thread); `'custom'` monitors run on the Node
   * main thread.
   */
  readonly kind: 'wall-clock' | 'cpu-time' | 'signal' | 'custom';
  /** The limit in milliseconds of a `'wall-clock'` or `'cpu-time'` monitor; `null` otherwise. */
  readonly limitMs: number | null;
  /** The start function of a `'custom'` monitor; `null` otherwise. */
  readonly start: MonitorStart | null;
  /** The `AbortSignal` of a `'signal'` monitor; `null` otherwise. */
  readonly signal: AbortSignal | null;
  /**
   * For a `'signal'` monitor: milliseconds between the polite stop and the kill (the binding's
   * `abortGracePeriodMs`); `null` for the binding's default (100 ms) and for other kinds.
   */
  readonly gracePeriodMs: number | null;
}

/**
 * Monitors raced with OR semantics, made by {@link anyOf}: the first to fire ends the call, and
 * its name is the call's `terminatedBy`.
 * @public
 */
export interface MonitorSet {
  /** The monitors, flattened (a set in a set contributes its monitors), in the order given. */
  readonly monitors: readonly Monitor[];
}

/**
 * Anything accepted where monitors are: one {@link Monitor}, a {@link MonitorSet}, or nothing
 * (`undefined`/`null`: no monitor).
 * @public
 */
export type MonitorInput = Monitor | MonitorSet | null | undefined;

const MONITOR = Symbol.for('@hyperlight/monitors/monitor');
const SET = Symbol.for('@hyperlight/monitors/set');

function brand<T extends object>(value: T, mark: symbol): T {
  Object.defineProperty(value, mark, { value: true });
  return Object.freeze(value);
}

/**
 * Whether `value` is a monitor made by this package (any copy or version of it).
 * @public
 */
export function isMonitor(value: unknown): value is Monitor {
  return typeof value === 'object' && value !== null && MONITOR in value;
}

/**
 * Whether `value` is a monitor set made by {@link anyOf} (any copy or version of this package).
 * @public
 */
export function isMonitorSet(value: unknown): value is MonitorSet {
  return typeof value === 'object' && value !== null && SET in value;
}

function checkLimit(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > MAX_LIMIT_MS) {
    throw invalidArg(
      `${what} takes an integer number of milliseconds from 1 to ${MAX_LIMIT_MS} (one hour), not ${String(ms)}`,
    );
  }
  return ms;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
    throw invalidArg(`a monitor name must be a non-empty string of at most 256 characters`);
  }
  return name;
}

/**
 * Ends the call when it has run for `ms` milliseconds of real time; catches a guest that holds
 * host resources without using CPU (e.g. waiting on a slow host function). Enforced by the
 * binding's native `wall-clock` monitor (the Rust crate's `WallClockMonitor`): the call returns
 * within about a millisecond of the deadline.
 *
 * @param ms - an integer from 1 to 3,600,000; `ERR_INVALID_ARG` otherwise (thrown at once).
 * @returns a monitor named `'wall-clock'`.
 * @example
 * ```ts
 * await sandbox.call('greet', event, { monitors: anyOf(wallClock(1000), cpuTime(100)) });
 * ```
 * @public
 */
export function wallClock(ms: number): Monitor {
  const limitMs = checkLimit(ms, 'wallClock()');
  return brand(
    {
      name: 'wall-clock',
      kind: 'wall-clock',
      limitMs,
      start: null,
      signal: null,
      gracePeriodMs: null,
    },
    MONITOR,
  );
}

/**
 * Ends the call when the sandbox's thread has used `ms` milliseconds of CPU time; catches
 * compute-bound abuse (tight loops) without penalising calls that wait on the host. Enforced by
 * the binding's native `cpu-time` monitor (the Rust crate's `CpuTimeMonitor`, reading the
 * thread's CPU clock): CPU used past the budget is about 0.2 ms.
 *
 * @param ms - an integer from 1 to 3,600,000; `ERR_INVALID_ARG` otherwise (thrown at once).
 * @returns a monitor named `'cpu-time'`.
 * @public
 */
export function cpuTime(ms: number): Monitor {
  const limitMs = checkLimit(ms, 'cpuTime()');
  return brand(
    { name: 'cpu-time', kind: 'cpu-time', limitMs, start: null, signal: null, gracePeriodMs: null },
    MONITOR,
  );
}

/**
 * A custom monitor: `start` runs on the Node main thread just before each call and receives a
 * {@link MonitorContext} to observe the call (host calls, output, elapsed time) and to kill it.
 * The Rust crate's counterpart is an `ExecutionMonitor` implementation; here completing the
 * future is `context.kill()`.
 *
 * @param name - reported as `terminatedBy`; a non-empty string of at most 256 characters.
 * @param start - see {@link MonitorStart}.
 * @example
 * ```ts
 * const noisy = monitor('output-limit', (ctx) => {
 *   ctx.onOutput((line) => { if (line.totalBytes > 64 * 1024) ctx.kill(); });
 * });
 * ```
 * @public
 */
export function monitor(name: string, start: MonitorStart): Monitor {
  const checked = checkName(name);
  if (typeof start !== 'function') {
    throw invalidArg(`monitor(${JSON.stringify(checked)}, start): start must be a function`);
  }
  return brand(
    { name: checked, kind: 'custom', limitMs: null, start, signal: null, gracePeriodMs: null },
    MONITOR,
  );
}

/**
 * Options of {@link signal}.
 * @public
 */
export interface SignalMonitorOptions {
  /**
   * The monitor's name: the call's `terminatedBy` when the signal ends it.
   * @defaultValue `'abort'` (the binding's own `terminatedBy` for an `AbortSignal`)
   */
  readonly name?: string;
  /**
   * Milliseconds between the polite stop and the kill: an integer from 0 to 3,600,000 (`0` kills
   * at once). The binding's `abortGracePeriodMs`; with several signal monitors in one call, the
   * smallest applies.
   * @defaultValue 100
   */
  readonly gracePeriodMs?: number;
}

/**
 * Ends the call when `abortSignal` aborts, with the binding's `AbortSignal` semantics (its
 * `signal` option of `callHandler`, enforced on the sandbox's thread):
 *
 * - already aborted when the call starts: the handler never runs (`ERR_CANCELLED`,
 *   `handlerStarted: false`, sandbox not poisoned);
 * - aborted while the handler runs: the engine is first asked to stop (the guest unwinds at its
 *   next interrupt check and the sandbox is **not** poisoned); a guest that has not stopped after
 *   `gracePeriodMs` (it waits on a host function, or is inside a long native operation) is killed
 *   and the sandbox is poisoned. Either way the call rejects with `ERR_CANCELLED`,
 *   `terminatedBy` this monitor's name and `cause` the signal's `reason`; the error's `poisoned`
 *   says which stop it was.
 *
 * An abort that happens before the call's Promise settles wins over a result that arrives after
 * it (as in the binding and Node's own APIs), but not over a custom monitor that fired first.
 *
 * @param abortSignal - e.g. `AbortSignal.timeout(ms)` or an `AbortController`'s `signal`.
 * @param options - the name, or {@link SignalMonitorOptions}.
 * @throws `ERR_INVALID_ARG` for something that is not an `AbortSignal`, a bad name or a bad grace
 * period.
 * @example
 * ```ts
 * const controller = new AbortController();
 * req.on('close', () => controller.abort());
 * await monitored.call('render', event, { monitors: anyOf(signal(controller.signal), wallClock(5000)) });
 * ```
 * @public
 */
export function signal(
  abortSignal: AbortSignal,
  options: string | SignalMonitorOptions = {},
): Monitor {
  if (!(abortSignal instanceof AbortSignal)) {
    throw invalidArg('signal() takes an AbortSignal');
  }
  const opts: SignalMonitorOptions = typeof options === 'string' ? { name: options } : options;
  if (typeof opts !== 'object' || opts === null) {
    throw invalidArg('signal(abortSignal, options): options must be a name or an object');
  }
  for (const key of Object.keys(opts)) {
    if (key !== 'name' && key !== 'gracePeriodMs') {
      throw invalidArg(
        `signal() options have an unknown key ${JSON.stringify(key)}; known: name, gracePeriodMs`,
      );
    }
  }
  const name = checkName(opts.name ?? 'abort');
  const grace = opts.gracePeriodMs;
  if (
    grace !== undefined &&
    (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > MAX_LIMIT_MS)
  ) {
    throw invalidArg(
      `signal(): gracePeriodMs takes an integer number of milliseconds from 0 to ${MAX_LIMIT_MS}, not ${String(grace)}`,
    );
  }
  return brand(
    {
      name,
      kind: 'signal',
      limitMs: null,
      start: null,
      signal: abortSignal,
      gracePeriodMs: grace ?? null,
    },
    MONITOR,
  );
}

/**
 * Ends the call when the guest makes more than `n` host calls in it: the `n + 1`-th host
 * function does not run. Counts calls to host functions registered through a
 * {@link CallObserver} (every host function of an `@hyperlight/sandbox` definition is). Same name
 * and semantics as the Rust crate's `host-call-budget` example monitor.
 *
 * @param n - a non-negative safe integer (`0`: no host call allowed).
 * @returns a monitor named `'host-call-budget'`.
 * @public
 */
export function hostCallBudget(n: number): Monitor {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw invalidArg(`hostCallBudget() takes a non-negative safe integer, not ${String(n)}`);
  }
  return monitor('host-call-budget', (ctx) => {
    ctx.onHostCall((event) => {
      if (event.count > n) ctx.kill();
    });
  });
}

/**
 * Races monitors with OR semantics, like a tuple of monitors in the Rust crate (a `MonitorSet`):
 * the first to fire ends the call and is its `terminatedBy`. Sets nest (they are flattened); with
 * no monitors the call is unmonitored. Several native monitors of one kind enforce the smallest
 * limit. Every monitor is started before the handler runs; if one fails to start, the handler
 * does not run (fail closed).
 *
 * @param monitors - monitors, sets, or `undefined`/`null` (ignored).
 * @public
 */
export function anyOf(...monitors: MonitorInput[]): MonitorSet {
  return brand({ monitors: Object.freeze(flatten(monitors, 'anyOf()')) }, SET);
}

/**
 * The monitors of an input, flattened; `ERR_INVALID_ARG` when something is not a monitor.
 * @param what - names the argument in the error message.
 */
export function flatten(inputs: readonly unknown[], what: string): Monitor[] {
  const out: Monitor[] = [];
  for (const input of inputs) {
    if (input === undefined || input === null) continue;
    if (isMonitor(input)) out.push(input);
    else if (isMonitorSet(input)) out.push(...input.monitors);
    else {
      throw invalidArg(
        `${what} takes monitors (wallClock(), cpuTime(), signal(), hostCallBudget(), monitor(), anyOf()), not ${describeValue(input)}`,
      );
    }
  }
  return out;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array (use anyOf(...) to combine monitors)';
  return typeof value === 'object' ? 'an object that is not a monitor' : typeof value;
}
