import { ErrorCodes } from '@hyperlight/js-host-api';
import { ERR_MONITOR_START } from '@hyperlight/monitors';

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

const known: ReadonlySet<string> = new Set(Object.values(SandboxErrorCodes));

/**
 * Whether `error` is an error of this package (or of the binding and monitors below it),
 * optionally with a given `code`.
 *
 * @example
 * ```ts
 * try {
 *   await pool.call('greet', event);
 * } catch (error) {
 *   if (isSandboxError(error, ERR_QUEUE_FULL)) return reply(503);
 *   throw error;
 * }
 * ```
 * @public
 */
export function isSandboxError<C extends SandboxErrorCode>(
  error: unknown,
  code?: C,
): error is SandboxError & {
  /** The code that was checked for. */
  readonly code: C;
} {
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
