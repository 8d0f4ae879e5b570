import { availableParallelism } from 'node:os';
import { ERR_CANCELLED } from '@hyperlight/js-host-api';
import { type AnyHandlers, defineSandbox, type SandboxDefinition } from './definition';
import { codedError, ERR_QUEUE_FULL, ERR_QUEUE_TIMEOUT, hookFailed, invalidArg } from './errors';
import { cancelled, load, loadsStopped } from './load';
import {
  type CallOptions,
  type CoreHooks,
  checkCallOptions,
  checkHooks,
  checkOptions,
  checkPolicy,
  checkSignal,
  closedError,
  type HandlerCaller,
  type ResetPolicy,
  SandboxCore,
  type SandboxHooks,
} from './sandbox';

/**
 * Why a pool replaced a sandbox with a new one made from the definition:
 * `'restore-failed'` (it could not return to its snapshot), `'max-calls'` (it served
 * `maxCallsPerSandbox` calls), `'create-failed'` (an earlier replacement could not be made and
 * this is a retry).
 * @public
 */
export type ReplaceReason = 'restore-failed' | 'max-calls' | 'create-failed';

/**
 * What the `onReplace` hook receives.
 * @public
 */
export interface ReplaceEvent {
  /** Why the sandbox was replaced. */
  readonly reason: ReplaceReason;
  /** The slot of the pool (0 to size − 1); the new sandbox keeps it. */
  readonly sandboxId: number;
  /**
   * Set when making the new sandbox failed; the pool retries after a second, unless a signal of
   * the definition's `loadLimits` has aborted (the slot then stays empty for good: the other
   * sandboxes serve the calls, and with none left calls wait for `queueTimeoutMs`).
   */
  readonly error?: unknown;
}

/**
 * Observers of a pool: the sandbox hooks of every sandbox, plus replacements.
 * @public
 */
export interface PoolHooks extends SandboxHooks {
  /**
   * After a sandbox was replaced (or its replacement failed).
   * @defaultValue none
   */
  readonly onReplace?: (event: ReplaceEvent) => void;
}

/**
 * Options of {@link createPool}.
 * @public
 */
export interface PoolOptions {
  /**
   * How many sandboxes, all made at once from the definition; a positive integer.
   * @defaultValue `os.availableParallelism()`
   */
  readonly size?: number;
  /**
   * How many calls may wait for a sandbox; one more rejects with `ERR_QUEUE_FULL`. A
   * non-negative integer (0: no queue, a call either gets an idle sandbox or is rejected).
   * @defaultValue 1000
   */
  readonly maxQueue?: number;
  /**
   * How long a call may wait in the queue, in milliseconds, before it rejects with
   * `ERR_QUEUE_TIMEOUT`; a positive integer.
   * @defaultValue no timeout
   */
  readonly queueTimeoutMs?: number;
  /**
   * When a sandbox returns to its post-load snapshot; `'never'` is not accepted (a poisoned
   * sandbox is always restored before it serves again).
   * @defaultValue `'on-poison'`
   */
  readonly reset?: Exclude<ResetPolicy, 'never'>;
  /**
   * Replace a sandbox by a fresh one after it served this many calls; a positive integer.
   * @defaultValue never
   */
  readonly maxCallsPerSandbox?: number;
  /**
   * Observers of calls, resets, terminations and replacements.
   * @defaultValue none
   */
  readonly hooks?: PoolHooks;
  /**
   * Stops making the pool, as `createSandbox`'s `signal` does for each of its sandboxes: the
   * loads are stopped, everything made is released and `createPool` rejects with
   * `ERR_CANCELLED` (`terminatedBy: 'abort'`). No effect once the pool is made (replacements
   * obey the definition's `loadLimits`).
   * @defaultValue no signal
   */
  readonly signal?: AbortSignal;
}

/**
 * Live counters of a pool, read with `pool.stats`.
 * @public
 */
export interface PoolStats {
  /** Sandboxes in the pool (slots; a slot being replaced counts). */
  readonly size: number;
  /**
   * Sandboxes running a call. A sandbox stops counting before the call's Promise settles, so
   * right after `await pool.call(...)` it is `idle` (or `resetting`).
   */
  readonly busy: number;
  /** Sandboxes ready for a call. */
  readonly idle: number;
  /**
   * Sandboxes not ready yet whose call has settled: restoring their snapshot after it (by the
   * reset policy), or being replaced (waiting to retry a failed replacement, or left empty
   * after one once the definition's `loadLimits` signal aborted).
   * `size === busy + idle + resetting`.
   */
  readonly resetting: number;
  /** Calls waiting for a sandbox. */
  readonly queued: number;
  /**
   * Calls that were dispatched to a sandbox and have settled (resolved or rejected). Calls the
   * pool rejected without running them are not counted here but in `rejected`.
   */
  readonly calls: number;
  /** Of `calls`, the calls that rejected (the handler threw, a monitor ended it, ...). */
  readonly failures: number;
  /**
   * Calls the pool rejected without dispatching them to a sandbox: `ERR_QUEUE_FULL`,
   * `ERR_QUEUE_TIMEOUT`, `ERR_CANCELLED` by the call's signal before it left the queue, and
   * `ERR_CLOSED` (made after `close()`/`drain()`, or still queued at `close()`). Calls with
   * invalid arguments are not counted.
   */
  readonly rejected: number;
  /** Restores to the post-load snapshot. */
  readonly resets: number;
  /** Sandboxes replaced by new ones. */
  readonly replacements: number;
  /** Calls rejected with `ERR_QUEUE_FULL`. */
  readonly rejectedQueueFull: number;
  /** Calls rejected with `ERR_QUEUE_TIMEOUT`. */
  readonly rejectedQueueTimeout: number;
}

/**
 * N sandboxes made from one definition behind a bounded FIFO queue: a call goes to an idle
 * sandbox, or waits its turn. Failed sandboxes are restored (or replaced) before they serve
 * again. `await using` closes it.
 * @public
 */
export interface Pool<H = AnyHandlers> extends HandlerCaller<H> {
  /**
   * Stops taking calls (`ERR_CLOSED`) and resolves when every queued and running call has
   * finished (and its sandbox has reset). The sandboxes stay loaded until `close()`.
   */
  drain(): Promise<void>;
  /** Live counters. */
  readonly stats: PoolStats;
}

interface Waiter {
  readonly handler: string;
  readonly event: unknown;
  readonly options: CallOptions;
  readonly enqueuedAt: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
  onAbort?: () => void;
}

interface Slot {
  readonly id: number;
  core: SandboxCore | null;
  busy: boolean;
  /** The call has settled; the sandbox is resetting (or being replaced) before it is idle. */
  finishing: boolean;
}

const RETRY_MS = 1000;

function positiveInt(value: unknown, what: string, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw invalidArg(
      `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, not ${String(value)}`,
    );
  }
  return value;
}

/**
 * Makes `size` sandboxes from one definition (in parallel) and serves calls from them: a call
 * goes to an idle sandbox, or waits in a bounded FIFO queue. A sandbox that a call poisoned is
 * restored to its post-load snapshot before it serves again (or replaced when that fails).
 * Rejects, after releasing what it made, if any sandbox cannot be made.
 *
 * @example
 * ```ts
 * await using pool = await createPool(definition, { size: 4, maxQueue: 100, queueTimeoutMs: 5000 });
 * const results = await Promise.all(events.map((e) => pool.call('greet', e)));
 * ```
 * @public
 */
export async function createPool<H = AnyHandlers>(
  definition: SandboxDefinition<H>,
  options: PoolOptions = {},
): Promise<Pool<H>> {
  checkOptions(
    options,
    ['size', 'maxQueue', 'queueTimeoutMs', 'reset', 'maxCallsPerSandbox', 'hooks', 'signal'],
    'the options of createPool',
  );
  const def = defineSandbox(definition) as SandboxDefinition<unknown>;
  const size = positiveInt(options.size ?? availableParallelism(), 'size');
  const maxQueue = positiveInt(options.maxQueue ?? 1000, 'maxQueue', true);
  const queueTimeoutMs =
    options.queueTimeoutMs === undefined
      ? undefined
      : positiveInt(options.queueTimeoutMs, 'queueTimeoutMs');
  const maxCalls =
    options.maxCallsPerSandbox === undefined
      ? Infinity
      : positiveInt(options.maxCallsPerSandbox, 'maxCallsPerSandbox');
  const policy = checkPolicy(options.reset ?? 'on-poison', false);
  checkHooks(options.hooks, ['onCall', 'onReset', 'onTermination', 'onReplace']);
  const hooks: PoolHooks = options.hooks ?? {};
  const abortSignal = checkSignal(options.signal, 'createPool');

  const counters = {
    calls: 0,
    failures: 0,
    rejected: 0,
    resets: 0,
    replacements: 0,
    rejectedQueueFull: 0,
    rejectedQueueTimeout: 0,
  };
  const coreHooks = (sandboxId: number): CoreHooks => ({
    sandboxId,
    ...(hooks.onCall ? { onCall: hooks.onCall } : {}),
    onReset: (e) => {
      counters.resets++;
      hooks.onReset?.(e);
    },
    ...(hooks.onTermination ? { onTermination: hooks.onTermination } : {}),
  });
  const makeCore = async (id: number, creationSignal?: AbortSignal) =>
    new SandboxCore(def, await load(def, id, creationSignal), policy, coreHooks(id));

  const made = await Promise.allSettled(
    Array.from({ length: size }, (_, id) => makeCore(id, abortSignal)),
  );
  const failed = made.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(
      made.map((r) =>
        r.status === 'fulfilled' ? r.value.dispose().catch(() => undefined) : undefined,
      ),
    );
    throw (failed as PromiseRejectedResult).reason;
  }
  if (abortSignal?.aborted) {
    // An abort before createPool resolves wins, as for createSandbox.
    await Promise.all(
      made.map((r) =>
        (r as PromiseFulfilledResult<SandboxCore>).value.dispose().catch(() => undefined),
      ),
    );
    throw cancelled({ signal: abortSignal, name: 'abort' }, 'after the loads');
  }
  const slots: Slot[] = made.map((r, id) => ({
    id,
    core: (r as PromiseFulfilledResult<SandboxCore>).value,
    busy: false,
    finishing: false,
  }));
  const queue: Waiter[] = [];
  let accepting = true;
  let closing: Promise<void> | undefined;
  const idleWaiters: Array<() => void> = [];
  const retries = new Set<ReturnType<typeof setTimeout>>();

  const notifyIfIdle = () => {
    if (queue.length > 0 || slots.some((s) => s.busy)) return;
    for (const wake of idleWaiters.splice(0)) wake();
  };

  const leaveQueue = (waiter: Waiter) => {
    const at = queue.indexOf(waiter);
    if (at >= 0) queue.splice(at, 1);
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.options.signal?.removeEventListener('abort', waiter.onAbort);
  };

  const replace = async (slot: Slot, reason: ReplaceReason) => {
    const old = slot.core;
    slot.core = null;
    if (old) void old.dispose().catch(() => undefined);
    try {
      const fresh = await makeCore(slot.id);
      if (closing) {
        await fresh.dispose().catch(() => undefined);
        return;
      }
      slot.core = fresh;
      counters.replacements++;
      safeHook(() => hooks.onReplace?.({ reason, sandboxId: slot.id }));
    } catch (error) {
      safeHook(() => hooks.onReplace?.({ reason, sandboxId: slot.id, error }));
      // A definition whose loadLimits signal aborted (e.g. at shutdown) makes no sandbox again.
      if (!closing && !loadsStopped(def)) {
        const timer = setTimeout(() => {
          retries.delete(timer);
          slot.busy = true;
          void replace(slot, 'create-failed').finally(() => release(slot));
        }, RETRY_MS);
        timer.unref();
        retries.add(timer);
      }
    }
  };

  const release = (slot: Slot) => {
    slot.busy = false;
    slot.finishing = false;
    dispatch();
    notifyIfIdle();
  };

  const start = (slot: Slot, waiter: Waiter) => {
    const core = slot.core as SandboxCore;
    slot.busy = true;
    const queuedMs = performance.now() - waiter.enqueuedAt;
    // Marked finishing before the caller sees the outcome, so a call made right after it may
    // queue for this sandbox even with a full (or zero-length) queue.
    // With no reset to do, the slot is idle again before the caller sees the outcome.
    const settled = () => {
      slot.finishing = true;
      if (core.jobs === 0) void afterCall(slot, core);
      else void core.whenIdle().then(() => afterCall(slot, core));
    };
    core.run(waiter.handler, waiter.event, waiter.options, queuedMs).then(
      (value) => {
        counters.calls++;
        settled();
        waiter.resolve(value);
      },
      (error) => {
        counters.calls++;
        counters.failures++;
        settled();
        waiter.reject(error);
      },
    );
  };

  /** After a call and its reset: replace the sandbox if it must be, then take the next call. */
  const afterCall = async (slot: Slot, core: SandboxCore) => {
    if (core.broken !== undefined) await replace(slot, 'restore-failed');
    else if (core.calls >= maxCalls) await replace(slot, 'max-calls');
    release(slot);
  };

  const dispatch = () => {
    while (queue.length > 0) {
      const slot = slots.find((s) => !s.busy && s.core !== null);
      if (!slot) return;
      const waiter = queue.shift() as Waiter;
      leaveQueue(waiter);
      start(slot, waiter);
    }
  };

  const call = (handler: string, event: unknown, callOptions: CallOptions = {}) => {
    try {
      checkCallOptions(callOptions);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!accepting) {
      counters.rejected++;
      return Promise.reject(closedError('pool'));
    }
    const abortSignal = callOptions.signal;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        handler,
        event,
        options: callOptions,
        enqueuedAt: performance.now(),
        resolve,
        reject,
      };
      const slot = queue.length === 0 ? slots.find((s) => !s.busy && s.core !== null) : undefined;
      if (slot) {
        start(slot, waiter);
        return;
      }
      // Sandboxes whose call has settled take the next queued calls without counting against
      // maxQueue: a caller awaiting one call and then making the next is never refused.
      const finishing = slots.filter((s) => s.finishing).length;
      if (queue.length >= maxQueue + finishing) {
        counters.rejectedQueueFull++;
        counters.rejected++;
        reject(
          codedError(
            ERR_QUEUE_FULL,
            `the pool's queue is full (maxQueue ${maxQueue} calls waiting for ${size} sandboxes); the call did not run`,
            { maxQueue },
          ),
        );
        return;
      }
      if (abortSignal?.aborted) {
        counters.rejected++;
        reject(abortedWhileQueued(handler, abortSignal));
        return;
      }
      queue.push(waiter);
      if (queueTimeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          leaveQueue(waiter);
          counters.rejectedQueueTimeout++;
          counters.rejected++;
          reject(
            codedError(
              ERR_QUEUE_TIMEOUT,
              `the call waited ${queueTimeoutMs} ms in the pool's queue without getting a sandbox; it did not run`,
              { queueTimeoutMs },
            ),
          );
          notifyIfIdle();
        }, queueTimeoutMs);
      }
      if (abortSignal) {
        waiter.onAbort = () => {
          leaveQueue(waiter);
          counters.rejected++;
          reject(abortedWhileQueued(handler, abortSignal));
          notifyIfIdle();
        };
        abortSignal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  };

  const whenIdle = () =>
    new Promise<void>((resolve) => {
      idleWaiters.push(resolve);
      notifyIfIdle();
    });

  const close = () => {
    closing ??= (async () => {
      accepting = false;
      for (const waiter of queue.splice(0)) {
        leaveQueue(waiter);
        counters.rejected++;
        waiter.reject(closedError('pool'));
      }
      for (const timer of retries) clearTimeout(timer);
      await whenIdle();
      await Promise.all(slots.map((s) => s.core?.dispose().catch(() => undefined)));
      for (const s of slots) s.core = null;
    })();
    return closing;
  };

  return {
    call: call as Pool<H>['call'],
    drain() {
      accepting = false;
      return whenIdle();
    },
    close,
    [Symbol.asyncDispose]: close,
    get stats(): PoolStats {
      const busy = slots.filter((s) => s.busy && !s.finishing && s.core !== null).length;
      const idle = slots.filter((s) => !s.busy && s.core !== null).length;
      return {
        size,
        busy,
        idle,
        resetting: size - busy - idle,
        queued: queue.length,
        ...counters,
      };
    },
    get closed() {
      return !accepting;
    },
  };
}

function abortedWhileQueued(handler: string, abortSignal: AbortSignal): Error {
  return codedError(
    ERR_CANCELLED,
    `the call ${JSON.stringify(handler)} was cancelled by its signal while waiting in the pool's queue; it did not run`,
    { terminatedBy: 'abort', handlerStarted: false, poisoned: false, cause: abortSignal.reason },
  );
}

function safeHook(f: () => void): void {
  try {
    f();
  } catch (error) {
    hookFailed('onReplace', error);
  }
}
