import {
  type ERR_CANCELLED,
  type ErrorCode,
  ErrorCodes,
  type HyperlightErrorOf,
} from '@hyperlight/js-host-api';
import { ERR_MONITOR_START, type MonitorStartError } from '@hyperlight/monitors';

/**
 * A pool's queue is full: `maxQueue` calls are already waiting for a sandbox. The call was not
 * queued and did not run. The error carries `maxQueue`.
 * @public
 */
export const ERR_QUEUE_FULL = 'ERR_QUEUE_FULL';

/**
 * A call waited in a pool's queue for `queueTimeoutMs` without getting a sandbox. It was removed
 * from the queue and did not run. The error carries `queueTimeoutMs`.
 * @public
 */
export const ERR_QUEUE_TIMEOUT = 'ERR_QUEUE_TIMEOUT';

/**
 * The sandbox or pool was closed (or a pool is draining): it takes no new calls. Calls still
 * waiting in a pool's queue when `close()` is called reject with it too; none of them ran.
 * @public
 */
export const ERR_CLOSED = 'ERR_CLOSED';

/**
 * Every `code` an error of this package can carry: the binding's (`ERR_INVALID_ARG`,
 * `ERR_CANCELLED`, `ERR_HANDLER`, ...), `ERR_MONITOR_START` from `@hyperlight/monitors`, and this
 * package's own `ERR_QUEUE_FULL`, `ERR_QUEUE_TIMEOUT` and `ERR_CLOSED`.
 * @public
 */
export const SandboxErrorCodes = Object.freeze({
  ...ErrorCodes,
  /** A monitor failed to start; the handler did not run (`@hyperlight/monitors`). */
  MONITOR_START: ERR_MONITOR_START,
  /** A pool's queue was full; the call did not run. */
  QUEUE_FULL: ERR_QUEUE_FULL,
  /** A call waited too long in a pool's queue; it did not run. */
  QUEUE_TIMEOUT: ERR_QUEUE_TIMEOUT,
  /** The sandbox or pool was closed (or the pool is draining); the call did not run. */
  CLOSED: ERR_CLOSED,
} as const);

/**
 * The `code` of an error of this package.
 * @public
 */
export type SandboxErrorCode = (typeof SandboxErrorCodes)[keyof typeof SandboxErrorCodes];

/**
 * An error of this package: an `Error` with a stable `code`.
 * @public
 */
export interface SandboxError extends Error {
  /** What went wrong, for programs to switch on. */
  readonly code: SandboxErrorCode;
}

/**
 * The rejection of a pool's call when its queue was full (`code: 'ERR_QUEUE_FULL'`).
 * @public
 */
export interface QueueFullError extends Error {
  /** Always `'ERR_QUEUE_FULL'`. */
  readonly code: typeof ERR_QUEUE_FULL;
  /** The pool's `maxQueue`: how many calls were already waiting. */
  readonly maxQueue: number;
}

/**
 * The rejection of a pool's call that waited too long in the queue (`code: 'ERR_QUEUE_TIMEOUT'`).
 * @public
 */
export interface QueueTimeoutError extends Error {
  /** Always `'ERR_QUEUE_TIMEOUT'`. */
  readonly code: typeof ERR_QUEUE_TIMEOUT;
  /** The pool's `queueTimeoutMs`: how long the call waited, in milliseconds. */
  readonly queueTimeoutMs: number;
}

/**
 * A cancelled call or load (`code: 'ERR_CANCELLED'`): by a monitor, a signal, `kill()`, or a
 * call's signal while it waited in a pool's queue.
 * @public
 */
export interface SandboxCancelledError extends Error {
  /** Always `'ERR_CANCELLED'`. */
  readonly code: typeof ERR_CANCELLED;
  /**
   * The monitor that ended it (`'wall-clock'`, `'cpu-time'`, `'abort'` for a call's signal,
   * `'host-call-budget'`, a custom or signal monitor's name), or `null` for `kill()`.
   */
  readonly terminatedBy: string | null;
  /**
   * Whether the handler had started: `false` when the call was cancelled before it reached the
   * guest (e.g. in a pool's queue). Set on the rejection of every call; absent on a cancelled
   * `createSandbox`/`createPool`.
   */
  readonly handlerStarted?: boolean;
  /**
   * Whether the cancellation poisoned the sandbox (a kill): the reset policy restores it before
   * its next call (with `reset: 'never'`, call the sandbox's `reset()`). Set on the rejection of
   * every call; absent on a cancelled `createSandbox`/`createPool`.
   */
  readonly poisoned?: boolean;
  /** A signal's `reason`, or what a custom monitor passed to `kill(reason)`. */
  readonly cause?: unknown;
}

/**
 * The error type {@link isSandboxError} narrows to for a `code`: {@link QueueFullError},
 * {@link QueueTimeoutError}, {@link SandboxCancelledError}, `MonitorStartError`
 * (`@hyperlight/monitors`), the binding's `HyperlightErrorOf<C>` for its other codes (e.g.
 * `HandlerError` with `guestName`, `guestMessage`, `guestStack` for `ERR_HANDLER`), else
 * {@link SandboxError} with that `code`. For the union of every code it is the union of every
 * error type.
 * @public
 */
export type SandboxErrorOf<C extends SandboxErrorCode> = C extends typeof ERR_QUEUE_FULL
  ? QueueFullError
  : C extends typeof ERR_QUEUE_TIMEOUT
    ? QueueTimeoutError
    : C extends typeof ERR_CANCELLED
      ? SandboxCancelledError
      : C extends typeof ERR_MONITOR_START
        ? MonitorStartError
        : C extends ErrorCode
          ? HyperlightErrorOf<C>
          : SandboxError & {
              /** The error's code, `C`. */
              readonly code: C;
            };

const known: ReadonlySet<string> = new Set(Object.values(SandboxErrorCodes));

/**
 * Whether `error` is an error of this package (or of the binding and monitors below it),
 * optionally with a given `code`; narrows its type accordingly ({@link SandboxErrorOf}), so the
 * fields of that kind of error (`maxQueue`, `queueTimeoutMs`, `terminatedBy`, `poisoned`,
 * `guestMessage`, ...) need no cast.
 *
 * @example
 * ```ts
 * try {
 *   await pool.call('greet', event);
 * } catch (error) {
 *   if (isSandboxError(error, ERR_QUEUE_FULL)) return reply(503, `over ${error.maxQueue} waiting`);
 *   if (isSandboxError(error, 'ERR_HANDLER')) return reply(500, error.guestMessage);
 *   throw error;
 * }
 * ```
 * @param error - any value, typically what a `catch` caught.
 * @param code - the code to test for; any code of this package when omitted.
 * @public
 */
export function isSandboxError<C extends SandboxErrorCode = SandboxErrorCode>(
  error: unknown,
  code?: C,
): error is SandboxErrorOf<C> {
  if (!(error instanceof Error)) return false;
  const actual = (error as { code?: unknown }).code;
  if (typeof actual !== 'string' || !known.has(actual)) return false;
  return code === undefined || actual === code;
}

/** An `Error` with a `code` and extra properties, as the binding makes them. */
export function codedError<C extends string>(
  code: C,
  message: string,
  extra: Record<string, unknown> = {},
): Error & { readonly code: C } {
  return Object.assign(new Error(message), { code }, extra);
}

/** An `ERR_INVALID_ARG` error. */
export function invalidArg(message: string): Error & { readonly code: 'ERR_INVALID_ARG' } {
  return codedError('ERR_INVALID_ARG', message);
}

/** Reports an exception thrown by a user hook without changing anything else. */
export function hookFailed(hook: string, error: unknown): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.emitWarning(`the ${hook} hook threw: ${text}`);
}
