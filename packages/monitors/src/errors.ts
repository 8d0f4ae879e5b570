import { ERR_CANCELLED, ERR_INVALID_ARG } from '@hyperlight/js-host-api';

/**
 * The `code` of the rejection when a monitor could not start: its `start` function threw (or
 * returned a Promise, which a start function must not). The handler did not run and the sandbox
 * is not poisoned: monitoring fails closed, as `Error::MonitorStart` does in the Rust crate.
 * @public
 */
export const ERR_MONITOR_START = 'ERR_MONITOR_START';

/**
 * The rejection of a monitored call whose monitor could not start (`code: 'ERR_MONITOR_START'`).
 * `cause` is what the monitor's `start` threw.
 * @public
 */
export class MonitorStartError extends Error {
  /** Always `'ERR_MONITOR_START'`. */
  readonly code: typeof ERR_MONITOR_START = ERR_MONITOR_START;
  /** The name of the monitor that failed to start. */
  readonly monitorName: string;
  /** The handler that was not run. */
  readonly handler: string;

  /** Built by the monitored call; exported for `instanceof`. */
  constructor(monitorName: string, handler: string, cause: unknown) {
    super(
      `the \`${monitorName}\` monitor failed to start (${describe(cause)}); the handler ` +
        `${JSON.stringify(handler)} was not run (monitors fail closed); this did not poison the sandbox`,
      { cause },
    );
    this.name = 'MonitorStartError';
    this.monitorName = monitorName;
    this.handler = handler;
  }
}

/**
 * The rejection of a monitored call that a monitor ended (`code: 'ERR_CANCELLED'`, like the
 * binding's own cancellations), with `terminatedBy` naming the monitor that fired first.
 * @public
 */
export interface MonitorCancelledError extends Error {
  /** Always `'ERR_CANCELLED'`. */
  readonly code: typeof ERR_CANCELLED;
  /** The monitor that ended the call, or `null` when `interruptHandle.kill()` did. */
  readonly terminatedBy: string | null;
  /**
   * Whether the call had been handed to the sandbox when it was stopped: `false` when a monitor
   * fired before that (an already aborted signal, a monitor that fired while monitors started,
   * or a pool's queue), so the handler did not run.
   */
  readonly handlerStarted: boolean;
  /**
   * Whether the sandbox is poisoned now (restore a snapshot or unload it): `true` after a kill,
   * `false` when the call never started or a signal's polite stop ended it.
   */
  readonly poisoned: boolean;
}

/** A message for any thrown value. */
export function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return String(value);
  } catch {
    return 'a value that cannot be printed';
  }
}

/** An `Error` with a `code`, as the binding makes them. */
export function codedError<C extends string>(
  code: C,
  message: string,
  extra: Record<string, unknown> = {},
  cause?: unknown,
): Error & { readonly code: C } {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  return Object.assign(error, { code }, extra);
}

/** An `ERR_INVALID_ARG` error. */
export function invalidArg(message: string): Error & { readonly code: typeof ERR_INVALID_ARG } {
  return codedError(ERR_INVALID_ARG, message);
}

/** An `ERR_CANCELLED` error naming the monitor that ended the call. */
export function cancelledBy(
  terminatedBy: string | null,
  handler: string,
  handlerStarted: boolean,
  poisoned: boolean,
  cause?: unknown,
): MonitorCancelledError {
  const by = terminatedBy === null ? 'kill()' : `the \`${terminatedBy}\` monitor`;
  const call = `the handler call ${JSON.stringify(handler)} was cancelled by ${by}`;
  const message = !handlerStarted
    ? `${call} before the handler started; this did not poison the sandbox`
    : poisoned
      ? `${call}; the sandbox is now poisoned: restore a snapshot or unload it`
      : `${call}; the guest stopped when asked and the sandbox is still usable`;
  const error = codedError(
    ERR_CANCELLED,
    message,
    { terminatedBy, handlerStarted, poisoned },
    cause,
  );
  return error as typeof error & {
    terminatedBy: string | null;
    handlerStarted: boolean;
    poisoned: boolean;
  };
}
