/**
 * A bad argument: an empty name, a zero or fractional timeout, a size that is not a positive
 * integer, an unknown option, an unknown handler, an event too large for the input buffer...
 * The order of the checks: a malformed argument (wrong type, out of range, unknown option) first,
 * so it is `ERR_INVALID_ARG` even on a consumed or poisoned object; then `ERR_CONSUMED`; then an
 * unknown handler (`ERR_INVALID_ARG`, on a poisoned sandbox too); then `ERR_POISONED`; the
 * event's size against the input buffer last.
 * @public
 */
export const ERR_INVALID_ARG = 'ERR_INVALID_ARG';

/**
 * The object was already consumed by a transition (`build()`, `loadRuntime()`,
 * `getLoadedSandbox()`, `unload()`) or released by `[Symbol.asyncDispose]()`; use the object the
 * transition returned.
 * @public
 */
export const ERR_CONSUMED = 'ERR_CONSUMED';

/**
 * The sandbox is in an inconsistent state after a kill, a timeout, a guest crash or running out of
 * memory: `restore()` a snapshot or `unload()` it.
 * @public
 */
export const ERR_POISONED = 'ERR_POISONED';

/**
 * The call was cancelled by a monitor (`wallClockTimeoutMs`, `cpuTimeoutMs`) or by
 * `interruptHandle.kill()`. The error's `terminatedBy` names the monitor (`'wall-clock'`,
 * `'cpu-time'`), or is `null` for `kill()`. The sandbox is now poisoned.
 * @public
 */
export const ERR_CANCELLED = 'ERR_CANCELLED';

/**
 * The guest aborted or crashed (a fault, out of memory, a protocol violation). The sandbox is now
 * poisoned.
 * @public
 */
export const ERR_GUEST_ABORT = 'ERR_GUEST_ABORT';

/**
 * The handler threw (or returned something that cannot cross the boundary). The error carries the
 * guest's `guestName`, `guestMessage` and `guestStack`. The sandbox stays usable.
 * @public
 */
export const ERR_HANDLER = 'ERR_HANDLER';

/**
 * No usable hypervisor: `/dev/kvm` is missing or cannot be opened. The message says what to fix
 * (permissions, the `kvm` group, virtualisation being enabled).
 * @public
 */
export const ERR_NO_HYPERVISOR = 'ERR_NO_HYPERVISOR';

/**
 * An unexpected internal error.
 * @public
 */
export const ERR_INTERNAL = 'ERR_INTERNAL';

/**
 * Every `code` an error of this package can carry, including `ERR_NO_NATIVE_BINDING` from the
 * loader.
 * @public
 */
export const ErrorCodes = Object.freeze({
  INVALID_ARG: ERR_INVALID_ARG,
  CONSUMED: ERR_CONSUMED,
  POISONED: ERR_POISONED,
  CANCELLED: ERR_CANCELLED,
  GUEST_ABORT: ERR_GUEST_ABORT,
  HANDLER: ERR_HANDLER,
  NO_HYPERVISOR: ERR_NO_HYPERVISOR,
  INTERNAL: ERR_INTERNAL,
  NO_NATIVE_BINDING: 'ERR_NO_NATIVE_BINDING',
} as const);

/**
 * The `code` of an error thrown or rejected by this package.
 * @public
 */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * An error thrown or rejected by this package: a plain `Error` with a stable `code`.
 * @public
 */
export interface HyperlightError extends Error {
  /** What went wrong, for programs to switch on. */
  readonly code: ErrorCode;
}

/**
 * The rejection of `callHandler()` when the handler threw (`code: 'ERR_HANDLER'`).
 * @public
 */
export interface HandlerError extends HyperlightError {
  readonly code: typeof ERR_HANDLER;
  /** The guest error's `name`, e.g. `'TypeError'`. */
  readonly guestName: string;
  /** The guest error's `message`. */
  readonly guestMessage: string;
  /** The guest error's `stack` as the guest engine printed it (may be empty). */
  readonly guestStack: string;
}

/**
 * The rejection of `callHandler()` when the call was cancelled (`code: 'ERR_CANCELLED'`).
 * @public
 */
export interface CancelledError extends HyperlightError {
  readonly code: typeof ERR_CANCELLED;
  /** The monitor that ended the call (`'wall-clock'`, `'cpu-time'`), or `null` for `kill()`. */
  readonly terminatedBy: string | null;
}

const knownCodes: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/**
 * Whether `error` is an error of this package, optionally with a given `code`.
 *
 * @example
 * ```ts
 * try {
 *   await loaded.callHandler('handler', {}, { cpuTimeoutMs: 500 });
 * } catch (error) {
 *   if (!isHyperlightError(error, ERR_CANCELLED)) throw error;
 * }
 * ```
 * @public
 */
export function isHyperlightError<C extends ErrorCode>(
  error: unknown,
  code?: C,
): error is HyperlightError & { readonly code: C } {
  if (!(error instanceof Error)) return false;
  const actual = (error as { code?: unknown }).code;
  if (typeof actual !== 'string' || !knownCodes.has(actual)) return false;
  return code === undefined || actual === code;
}
