import { ERR_CANCELLED, ERR_HANDLER, type LoadedJSSandbox } from '@hyperlight/js-host-api';
import {
  anyOf,
  type MonitoredCallStats,
  type MonitoredSandbox,
  type MonitorInput,
  monitorSandbox,
  signal,
  type TerminationEvent,
} from '@hyperlight/monitors';
import {
  type AnyHandlers,
  defineSandbox,
  type EventOf,
  type HandlerName,
  type ResultOf,
  type SandboxDefinition,
} from './definition';
import { codedError, ERR_CLOSED, hookFailed, invalidArg } from './errors';
import { type Loaded, load } from './load';

/**
 * When a sandbox returns to the snapshot taken right after its load:
 *
 * - `'on-poison'`: after a call that poisoned it (a monitor or `kill()` ended it, the guest
 *   crashed or ran out of memory), so one bad event never breaks the next; state kept otherwise.
 * - `'on-error'`: after every failed call, the handler's own exceptions included.
 * - `'always'`: after every call: fresh state for each call (e.g. one tenant per call); a
 *   restore costs tens of microseconds.
 * - `'never'`: never by itself; a poisoned sandbox rejects calls with `ERR_POISONED` until
 *   `reset()`. Not accepted by pools, which always restore poisoned sandboxes.
 *
 * The call's result is delivered first; the restore runs before the sandbox takes its next call.
 * @public
 */
export type ResetPolicy = 'on-poison' | 'on-error' | 'always' | 'never';

const POLICIES: ReadonlySet<string> = new Set(['on-poison', 'on-error', 'always', 'never']);

/**
 * Options of one call.
 * @public
 */
export interface CallOptions {
  /**
   * Monitors for this call, raced with the definition's `limits` (so they can only tighten
   * them).
   * @defaultValue none beyond the definition's
   */
  readonly monitors?: MonitorInput;
  /**
   * Cancels the call when it aborts, as the `signal()` monitor of `@hyperlight/monitors` (the
   * binding's `AbortSignal` semantics): already aborted, or aborted while the call waits (behind
   * the sandbox's previous call, or in a pool's queue), the handler never runs; while it runs, the
   * guest is first asked to stop (sandbox not poisoned, no reset needed) and killed 100 ms later
   * if it has not (poisoned, then restored by the reset policy). The call rejects with
   * `ERR_CANCELLED`, `terminatedBy: 'abort'`, `cause: signal.reason`, and `poisoned` saying which
   * stop it was. A call with a signal does not take the binding's exit-less warm path.
   * @defaultValue none
   */
  readonly signal?: AbortSignal;
  /**
   * Whether to run the guest's garbage collector after the call.
   * @defaultValue true
   */
  readonly gc?: boolean;
}

/**
 * Statistics of one call: the monitors' `MonitoredCallStats` (`@hyperlight/monitors`) plus
 * which handler ran, whether it succeeded and how long it waited for a sandbox.
 * @public
 */
export interface SandboxCallStats extends MonitoredCallStats {
  /** The routing key called. */
  readonly handler: string;
  /** Whether the call resolved. */
  readonly ok: boolean;
  /** Milliseconds the call waited in a pool's queue (0 when it got a sandbox at once). */
  readonly queuedMs: number;
}

/**
 * Why a sandbox was restored to its post-load snapshot: the reset policy's reasons, or
 * `'manual'` for `reset()`.
 * @public
 */
export type ResetReason = 'poisoned' | 'error' | 'always' | 'manual';

/**
 * What the `onCall` hook receives after every call (before its Promise settles).
 * @public
 */
export interface CallEvent {
  /** The routing key called. */
  readonly handler: string;
  /** Whether the call resolved. */
  readonly ok: boolean;
  /** The rejection, when it did not. */
  readonly error?: unknown;
  /** The call's statistics. */
  readonly stats: SandboxCallStats;
  /** Which sandbox of a pool served it (0 for a single sandbox). */
  readonly sandboxId: number;
}

/**
 * What the `onReset` hook receives after every restore.
 * @public
 */
export interface ResetEvent {
  /** Why the sandbox was restored. */
  readonly reason: ResetReason;
  /** Which sandbox of a pool (0 for a single sandbox). */
  readonly sandboxId: number;
  /** How long the restore took, in milliseconds. */
  readonly durationMs: number;
  /** Set when the restore failed; a pool then replaces the sandbox. */
  readonly error?: unknown;
}

/**
 * What the `onTermination` hook receives when a monitor ends a call.
 * @public
 */
export interface SandboxTerminationEvent extends TerminationEvent {
  /** Which sandbox of a pool (0 for a single sandbox). */
  readonly sandboxId: number;
}

/**
 * Observers of a sandbox's life. Hooks run synchronously on the main thread; an exception in a
 * hook is reported with `process.emitWarning` and changes nothing else.
 * @public
 */
export interface SandboxHooks {
  /**
   * After every call, with its statistics.
   * @defaultValue none
   */
  readonly onCall?: (event: CallEvent) => void;
  /**
   * After every restore to the post-load snapshot.
   * @defaultValue none
   */
  readonly onReset?: (event: ResetEvent) => void;
  /**
   * When a monitor ends a call (feed `monitor_terminations_total` with it).
   * @defaultValue none
   */
  readonly onTermination?: (event: SandboxTerminationEvent) => void;
}

/**
 * Options of {@link createSandbox}.
 * @public
 */
export interface SandboxOptions {
  /**
   * When the sandbox returns to its post-load snapshot.
   * @defaultValue `'on-poison'`
   */
  readonly reset?: ResetPolicy;
  /**
   * Observers of calls, resets and terminations.
   * @defaultValue none
   */
  readonly hooks?: SandboxHooks;
  /**
   * Stops making the sandbox: an already aborted signal rejects at once (nothing is built); an
   * abort while the micro-VM boots is seen when the boot ends; an abort during the load stops
   * the guest code running at load time as the binding's `signal` does (politely, then killed
   * after 100 ms); an abort before `createSandbox` resolves always wins. It rejects with
   * `ERR_CANCELLED`, `terminatedBy: 'abort'` and `cause: signal.reason`, after releasing what
   * it made. The signal has no effect on the sandbox once made (give calls their own).
   * @defaultValue no signal
   */
  readonly signal?: AbortSignal;
}

/**
 * What a {@link Sandbox} and a {@link Pool} have in common: typed calls and closing. Write code
 * against it to accept either.
 * @public
 */
export interface HandlerCaller<H = AnyHandlers> {
  /**
   * Calls the handler `handler` with `event` under the definition's limits and
   * `options.monitors`, and resolves to the handler's result. Rejects with the binding's codes
   * (`ERR_HANDLER`, `ERR_CANCELLED` with `terminatedBy`, `ERR_GUEST_ABORT`, `ERR_INVALID_ARG`,
   * `ERR_POISONED` under the `'never'` policy), `ERR_MONITOR_START`, `ERR_CLOSED` once closed,
   * and for a pool `ERR_QUEUE_FULL`, `ERR_QUEUE_TIMEOUT`, or `ERR_CANCELLED` with
   * `handlerStarted: false` when `options.signal` aborts while the call waits in the queue.
   */
  call<K extends HandlerName<H>>(
    handler: K,
    event: EventOf<H[K]>,
    options?: CallOptions,
  ): Promise<ResultOf<H[K]>>;
  /**
   * Stops taking calls (`ERR_CLOSED`), lets the running calls finish and releases the micro-VMs;
   * idempotent. A sandbox also finishes the calls already made; a pool rejects its queued calls
   * with `ERR_CLOSED` (call `drain()` first for a graceful stop). Calls without limits can make
   * it wait: give definitions limits.
   */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** Whether the sandbox or pool takes no more calls (`close()`, or a pool's `drain()`). */
  readonly closed: boolean;
}

/**
 * A loaded sandbox made from a definition, snapshotted right after the load, that resets itself
 * by its policy. Calls run one at a time, in order. `await using` closes it.
 * @public
 */
export interface Sandbox<H = AnyHandlers> extends HandlerCaller<H> {
  /**
   * Returns the sandbox to its post-load snapshot (after the calls already made), whatever the
   * policy; clears poisoning.
   */
  reset(): Promise<void>;
  /** Whether the underlying sandbox is poisoned now (between a failed call and its reset). */
  readonly poisoned: boolean;
  /** Statistics of the most recent call; `null` before the first. */
  readonly lastCallStats: SandboxCallStats | null;
  /** The reset policy in force. */
  readonly resetPolicy: ResetPolicy;
}

/** The hooks' common argument: which sandbox. */
export interface CoreHooks extends SandboxHooks {
  readonly sandboxId: number;
}

/**
 * One loaded sandbox, its monitors and its reset policy: the engine of {@link Sandbox} and of
 * each sandbox of a pool.
 */
export class SandboxCore {
  readonly loaded: LoadedJSSandbox;
  readonly monitored: MonitoredSandbox;
  /** The error of a failed restore: the sandbox is unusable until a restore succeeds. */
  broken: unknown;
  closed = false;
  calls = 0;
  /** Calls made and not done yet (a call is done once its reset, if any, is). */
  jobs = 0;
  private lastStats: SandboxCallStats | null = null;
  /** What the last call left for `last`, materialised when read (the native stats cost a hop). */
  private lastPending: { handler: string; ok: boolean; queuedMs: number } | null = null;
  private tail: Promise<void> = Promise.resolve();
  private readonly snapshot: Loaded['snapshot'];
  private readonly installations: Loaded['installations'];

  constructor(
    private readonly definition: SandboxDefinition<unknown>,
    made: Loaded,
    readonly policy: ResetPolicy,
    private readonly hooks: CoreHooks,
  ) {
    this.loaded = made.loaded;
    this.snapshot = made.snapshot;
    this.installations = made.installations;
    const onTermination = hooks.onTermination;
    this.monitored = monitorSandbox(made.loaded, {
      observer: made.observer,
      ...(onTermination
        ? {
            onTermination: (e: TerminationEvent) =>
              onTermination({ ...e, sandboxId: hooks.sandboxId }),
          }
        : {}),
    });
  }

  /** The monitors of a call: the definition's limits, the call's monitors, its signal. */
  monitorsOf(options: CallOptions): MonitorInput {
    checkCallOptions(options);
    if (options.monitors == null && options.signal === undefined) return this.definition.limits;
    return anyOf(
      this.definition.limits,
      options.monitors,
      options.signal === undefined ? undefined : signal(options.signal),
    );
  }

  /**
   * Runs one call after the previous ones (and their resets); resolves with its result before
   * the reset that follows it. `whenIdle()` resolves once that reset is done too.
   */
  run(handler: string, event: unknown, options: CallOptions, queuedMs: number): Promise<unknown> {
    let monitors: MonitorInput;
    try {
      monitors = this.monitorsOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.jobs++;
    let jobDone = false;
    /** Marks this call's work (and its reset) done: called before its outcome is delivered. */
    const finishJob = () => {
      if (!jobDone) {
        jobDone = true;
        this.jobs--;
      }
    };
    return new Promise((resolve, reject) => {
      this.tail = this.tail.then(async () => {
        if (this.broken !== undefined) {
          finishJob();
          reject(this.broken);
          return;
        }
        let value: unknown;
        let error: unknown;
        let ok = false;
        if (this.installations.length > 0) {
          try {
            this.beginCall(handler);
          } catch (e) {
            // Nothing ran: no statistics, no hooks, no reset.
            finishJob();
            reject(e);
            return;
          }
        }
        try {
          value = await this.monitored.call(handler, event, {
            monitors,
            ...(options.gc === undefined ? {} : { gc: options.gc }),
          });
          ok = true;
        } catch (e) {
          error = this.mapError(e);
        }
        this.calls++;
        this.lastStats = null;
        this.lastPending = { handler, ok, queuedMs };
        if (this.hooks.onCall) {
          try {
            this.hooks.onCall({
              handler,
              ok,
              ...(ok ? {} : { error }),
              stats: this.last as SandboxCallStats,
              sandboxId: this.hooks.sandboxId,
            });
          } catch (e) {
            hookFailed('onCall', e);
          }
        }
        const reason = this.resetReason(ok);
        // Without a reset to do, the sandbox is idle by the time the caller sees the outcome.
        if (reason === null) finishJob();
        if (ok) resolve(value);
        else reject(error);
        if (reason !== null) {
          await this.restore(reason);
          finishJob();
        }
      });
      // The chain never rejects: a bug above must not stall every later call (or a pool slot).
      this.tail = this.tail.catch((error: unknown) => {
        finishJob();
        reject(error);
        process.emitWarning(
          `@hyperlight/sandbox: a call's bookkeeping failed (a bug): ${String(error)}`,
        );
      });
    });
  }

  /** Runs the host modules' per-call hooks; what one throws rejects the call before it runs. */
  private beginCall(handler: string): void {
    const call = { handler, callId: ++lastCallId, sandboxId: this.hooks.sandboxId };
    for (const installation of this.installations) installation.beginCall?.(call);
  }

  /** Statistics of the most recent call; `null` before the first. */
  get last(): SandboxCallStats | null {
    const pending = this.lastPending;
    if (pending !== null) {
      const base = this.monitored.lastCallStats ?? {
        wallClockMs: 0,
        cpuTimeMs: null,
        terminatedBy: null,
        hostCalls: 0,
        outputBytes: 0,
      };
      this.lastStats = { ...base, ...pending };
      this.lastPending = null;
    }
    return this.lastStats;
  }

  private resetReason(ok: boolean): ResetReason | null {
    // Only a failed call can poison (and reading `poisoned` crosses into native code).
    if (!ok && this.loaded.poisoned) return this.policy === 'never' ? null : 'poisoned';
    if (this.policy === 'always') return 'always';
    if (!ok && this.policy === 'on-error') return 'error';
    return null;
  }

  private mapError(error: unknown): unknown {
    if (error instanceof Error) {
      // The binding's (and the monitors') advice is for their own API; give this package's.
      const advice = this.poisonAdvice();
      for (const key of ['message', 'stack'] as const) {
        const text = error[key];
        if (typeof text === 'string' && text.includes(BINDING_ADVICE)) {
          try {
            error[key] = text.replaceAll(BINDING_ADVICE, advice);
          } catch {
            // A read-only property keeps the binding's text.
          }
        }
      }
      const e = error as { code?: unknown; poisoned?: unknown; handlerStarted?: unknown };
      if (e.code === ERR_CANCELLED && e.poisoned === undefined) {
        // `kill()` (terminatedBy: null) reaches us as the binding's error: complete its fields.
        Object.assign(error, {
          handlerStarted: e.handlerStarted ?? true,
          poisoned: this.loaded.poisoned,
        });
      }
    }
    const mapStack = this.definition.mapStack;
    if (mapStack && (error as { code?: unknown } | null)?.code === ERR_HANDLER) {
      const e = error as { guestStack?: unknown };
      if (typeof e.guestStack === 'string') {
        try {
          e.guestStack = mapStack(e.guestStack);
        } catch {
          // The stack stays as the guest printed it.
        }
      }
    }
    return error;
  }

  /** What to do about a poisoned sandbox under this sandbox's reset policy. */
  private poisonAdvice(): string {
    return this.policy === 'never'
      ? "call the sandbox's reset() (its reset policy 'never' does not restore it by itself)"
      : `the reset policy ('${this.policy}') restores it before its next call, nothing to do`;
  }

  /** Restores the post-load snapshot; a failure marks the sandbox broken. Never rejects. */
  private async restore(reason: ResetReason): Promise<unknown> {
    const started = performance.now();
    let error: unknown;
    try {
      await this.loaded.restore(await this.snapshot);
      this.broken = undefined;
    } catch (e) {
      error = e;
      this.broken = e;
    }
    if (this.hooks.onReset) {
      try {
        this.hooks.onReset({
          reason,
          sandboxId: this.hooks.sandboxId,
          durationMs: performance.now() - started,
          ...(error === undefined ? {} : { error }),
        });
      } catch (e) {
        hookFailed('onReset', e);
      }
    }
    return error;
  }

  /** A manual reset, after the calls already made. */
  reset(): Promise<void> {
    const done = this.tail.then(async () => {
      const error = await this.restore('manual');
      if (error !== undefined) throw error;
    });
    this.tail = done.catch(() => undefined);
    return done;
  }

  /** Resolves when every call made so far, and its reset, is done. */
  whenIdle(): Promise<void> {
    return this.tail;
  }

  /** Waits for the calls made so far, then releases the micro-VM. */
  async dispose(): Promise<void> {
    this.closed = true;
    await this.tail;
    await this.loaded[Symbol.asyncDispose]();
  }
}

/** The advice of the binding's and the monitors' messages for a poisoned sandbox. */
const BINDING_ADVICE = 'restore a snapshot or unload it';

/** The id of the most recent call that ran host modules' hooks (process-wide). */
let lastCallId = 0;

const CALL_OPTIONS = ['monitors', 'signal', 'gc'];

/** Checks the options of a call (`ERR_INVALID_ARG`): known keys, a real signal, a boolean gc. */
export function checkCallOptions(options: unknown): void {
  checkOptions(options, CALL_OPTIONS, 'the options of call()');
  const { signal: abortSignal, gc } = (options ?? {}) as CallOptions;
  if (abortSignal !== undefined && !(abortSignal instanceof AbortSignal)) {
    throw invalidArg('options.signal must be an AbortSignal');
  }
  if (gc !== undefined && typeof gc !== 'boolean') throw invalidArg('options.gc must be a boolean');
}

/** Checks the `signal` option of `createSandbox`/`createPool`. */
export function checkSignal(value: unknown, what: string): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw invalidArg(`options.signal of ${what} must be an AbortSignal`);
  }
  return value;
}

/** Checks a reset policy. */
export function checkPolicy(policy: unknown, allowNever: boolean): ResetPolicy {
  if (typeof policy !== 'string' || !POLICIES.has(policy) || (!allowNever && policy === 'never')) {
    const allowed = [...POLICIES].filter((p) => allowNever || p !== 'never');
    throw invalidArg(
      `reset must be one of ${allowed.map((p) => `'${p}'`).join(', ')}, not ${String(policy)}`,
    );
  }
  return policy as ResetPolicy;
}

/** Checks a hooks object. */
export function checkHooks(hooks: unknown, allowed: readonly string[]): void {
  if (hooks === undefined) return;
  if (typeof hooks !== 'object' || hooks === null) throw invalidArg('hooks must be an object');
  for (const [key, value] of Object.entries(hooks)) {
    if (!allowed.includes(key)) {
      throw invalidArg(
        `hooks has an unknown key ${JSON.stringify(key)}; known: ${allowed.join(', ')}`,
      );
    }
    if (value !== undefined && typeof value !== 'function')
      throw invalidArg(`hooks.${key} must be a function`);
  }
}

/** Checks that an options object has only known keys. */
export function checkOptions(options: unknown, allowed: readonly string[], what: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null)
    throw invalidArg(`${what} must be an object`);
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw invalidArg(
        `${what} has an unknown key ${JSON.stringify(key)}; known: ${allowed.join(', ')}`,
      );
    }
  }
}

/** The error of a call on a closed sandbox or pool. */
export function closedError(what: string): Error {
  return codedError(ERR_CLOSED, `this ${what} is closed and takes no new calls`);
}

/**
 * Makes a ready sandbox from a definition in one call: builds the micro-VM, registers the host
 * functions and host modules (observed for monitors), loads the runtime, modules and handlers,
 * under the definition's `loadLimits` and `options.signal`, and takes a snapshot right after the
 * load, which the reset policy returns to. The snapshot is the sandbox's first job on its own
 * thread: it resolves once the load is done, and the first call queues behind the snapshot
 * rather than waiting for it here.
 *
 * Rejects with the binding's errors (`ERR_NO_HYPERVISOR`, `ERR_INVALID_ARG` for a handler that
 * does not compile or a module that does not resolve, ...) and `ERR_CANCELLED` when a load
 * limit or the signal stopped it, after releasing what it made.
 *
 * @example
 * ```ts
 * await using sandbox = await createSandbox(definition, { reset: 'always' });
 * const { message } = await sandbox.call('greet', { name: 'World' });
 * ```
 * @public
 */
export async function createSandbox<H = AnyHandlers>(
  definition: SandboxDefinition<H>,
  options: SandboxOptions = {},
): Promise<Sandbox<H>> {
  checkOptions(options, ['reset', 'hooks', 'signal'], 'the options of createSandbox');
  const checkedDefinition = defineSandbox(definition) as SandboxDefinition<unknown>;
  const policy = checkPolicy(options.reset ?? 'on-poison', true);
  checkHooks(options.hooks, ['onCall', 'onReset', 'onTermination']);
  const abortSignal = checkSignal(options.signal, 'createSandbox');
  const made = await load(checkedDefinition, 0, abortSignal);
  const core = new SandboxCore(checkedDefinition, made, policy, {
    ...options.hooks,
    sandboxId: 0,
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= core.dispose();
    return closing;
  };
  return {
    call: ((handler: string, event: unknown, callOptions: CallOptions = {}) => {
      if (core.closed) return Promise.reject(closedError('sandbox'));
      return core.run(handler, event, callOptions, 0);
    }) as Sandbox<H>['call'],
    reset: () => (core.closed ? Promise.reject(closedError('sandbox')) : core.reset()),
    close,
    [Symbol.asyncDispose]: close,
    get closed() {
      return core.closed;
    },
    get poisoned() {
      return !core.closed && core.loaded.poisoned;
    },
    get lastCallStats() {
      return core.last;
    },
    resetPolicy: policy,
  };
}
