import { ERR_NO_NATIVE_BINDING, type NativeBindingError } from './errors';

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
 * The call was cancelled: by a monitor (`wallClockTimeoutMs`, `cpuTimeoutMs`; the sandbox is
 * poisoned), by its `AbortSignal` (`terminatedBy: 'abort'`, `cause: signal.reason`; poisoned only
 * if the guest had to be killed after the grace period), by `interruptHandle.kill()` (poisoned)
 * or `interruptHandle.requestInterrupt()` (not poisoned). See {@link CancelledError}.
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
 * No usable hypervisor: `/dev/kvm` is missing, cannot be opened, is not a KVM device, or refuses to
 * create a VM. The message carries the diagnosis of `checkHypervisor()` (what is wrong and what
 * to do: permissions and the group to join, the module to load, nested virtualisation); call
 * `checkHypervisor()` for the same diagnosis as data.
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
  /** `ERR_INVALID_ARG`: A bad argument or an unknown option key. */
  INVALID_ARG: ERR_INVALID_ARG,
  /** `ERR_CONSUMED`: The object was consumed by a transition or released. */
  CONSUMED: ERR_CONSUMED,
  /** `ERR_POISONED`: The sandbox is poisoned: restore a snapshot or unload it. */
  POISONED: ERR_POISONED,
  /** `ERR_CANCELLED`: The call was cancelled (a monitor, its signal, kill() or requestInterrupt()). */
  CANCELLED: ERR_CANCELLED,
  /** `ERR_GUEST_ABORT`: The guest aborted or crashed; the sandbox is poisoned. */
  GUEST_ABORT: ERR_GUEST_ABORT,
  /** `ERR_HANDLER`: The handler threw; the sandbox stays usable. */
  HANDLER: ERR_HANDLER,
  /** `ERR_NO_HYPERVISOR`: No usable hypervisor (see checkHypervisor()). */
  NO_HYPERVISOR: ERR_NO_HYPERVISOR,
  /** `ERR_INTERNAL`: A bug of this package. */
  INTERNAL: ERR_INTERNAL,
  /** `ERR_NO_NATIVE_BINDING`: No native binding for this platform, or it did not load. */
  NO_NATIVE_BINDING: ERR_NO_NATIVE_BINDING,
} as const);

/**
 * The `code` of an error thrown or rejected by this package.
 * @public
 */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * An error thrown or rejected by this package: a plain `Error` with a stable `code`. The rejection
 * of an async method carries the caller's JavaScript stack (the frames of the code that called the
 * method), although the error is made later, when the sandbox thread answers.
 * @typeParam C - the `code`; narrow with {@link isHyperlightError}.
 * @public
 */
export interface HyperlightError<C extends ErrorCode = ErrorCode> extends Error {
  /** What went wrong, for programs to switch on. */
  readonly code: C;
}

/**
 * The rejection of `callHandler()` when the handler threw (`code: 'ERR_HANDLER'`).
 * @public
 */
export interface HandlerError extends HyperlightError<typeof ERR_HANDLER> {
  /** The guest error's `name`, e.g. `'TypeError'`. */
  readonly guestName: string;
  /** The guest error's `message`. */
  readonly guestMessage: string;
  /** The guest error's `stack` as the guest engine printed it (may be empty). */
  readonly guestStack: string;
}

/**
 * What ended a cancelled call: a monitor (`'wall-clock'`, `'cpu-time'`), the call's
 * `AbortSignal` (`'abort'`), or `null` for `interruptHandle.kill()` and
 * `interruptHandle.requestInterrupt()`.
 * @public
 */
export type TerminatedBy = 'wall-clock' | 'cpu-time' | 'abort' | null;

/**
 * The rejection of `callHandler()` when the call was cancelled (`code: 'ERR_CANCELLED'`).
 * @public
 */
export interface CancelledError extends HyperlightError<typeof ERR_CANCELLED> {
  /** What ended the call. */
  readonly terminatedBy: TerminatedBy;
  /** For `terminatedBy: 'abort'`: the signal's `reason` (by default a `DOMException` named `AbortError`). */
  readonly cause?: unknown;
}

/**
 * The error type {@link isHyperlightError} narrows to for a `code`: {@link HandlerError} for
 * `ERR_HANDLER`, {@link CancelledError} for `ERR_CANCELLED`, {@link NativeBindingError} for
 * `ERR_NO_NATIVE_BINDING`, else {@link HyperlightError} with that `code`. For the union of every
 * code it is the union of every error type.
 * @public
 */
export type HyperlightErrorOf<C extends ErrorCode> = C extends typeof ERR_HANDLER
  ? HandlerError
  : C extends typeof ERR_CANCELLED
    ? CancelledError
    : C extends typeof ERR_NO_NATIVE_BINDING
      ? NativeBindingError
      : HyperlightError<C>;

const knownCodes: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/**
 * Whether `error` is an error of this package, optionally with a given `code`; narrows its type
 * accordingly ({@link HyperlightErrorOf}), so the fields of that kind of error need no cast.
 *
 * @example
 * ```ts
 * try {
 *   await loaded.callHandler('handler', {}, { cpuTimeoutMs: 500 });
 * } catch (error) {
 *   if (isHyperlightError(error, ERR_HANDLER)) console.log(error.guestName, error.guestStack);
 *   else if (isHyperlightError(error, ERR_CANCELLED)) console.log('ended by', error.terminatedBy);
 *   else throw error;
 * }
 * ```
 * @param error - any value, typically what a `catch` caught.
 * @param code - the code to test for; any code of this package when omitted.
 * @public
 */
export function isHyperlightError<C extends ErrorCode = ErrorCode>(
  error: unknown,
  code?: C,
): error is HyperlightErrorOf<C> {
  if (!(error instanceof Error)) return false;
  const actual = (error as { code?: unknown }).code;
  if (typeof actual !== 'string' || !knownCodes.has(actual)) return false;
  return code === undefined || actual === code;
}
