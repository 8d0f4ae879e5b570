/**
 * The `code` of the error thrown when no native binding fits this platform or none loads.
 * @public
 */
export const ERR_NO_NATIVE_BINDING = 'ERR_NO_NATIVE_BINDING';

/**
 * Where the loader looked for the native binding.
 *
 * - `env`: the file named by `HYPERLIGHT_JS_NATIVE_PATH`;
 * - `package`: the prebuilt platform package, e.g. `@hyperlight/js-host-api-linux-x64-gnu`.
 * @public
 */
export type BindingSource = 'env' | 'package';

/**
 * One place the loader tried, and why it did not give a binding.
 * @public
 */
export interface LoadAttempt {
  /** What kind of place it was. */
  readonly source: BindingSource;
  /** The file, folder or package name tried. */
  readonly target: string;
  /** Why it did not load. */
  readonly reason: string;
}

/**
 * Marks a {@link NativeBindingError}: registered in the global symbol registry, so the ESM and the
 * CJS build of this package (each with its own copy of the class) recognise each other's errors.
 */
const BRAND = Symbol.for('@hyperlight/js-host-api:NativeBindingError');

/**
 * Thrown when the native binding cannot be loaded: the platform has no prebuilt binding, the
 * platform package is not installed, or loading the binary failed. `err.code` is
 * `'ERR_NO_NATIVE_BINDING'`; the message names the platform triple, what was tried and what to do.
 * @public
 */
export class NativeBindingError extends Error {
  /**
   * `instanceof NativeBindingError` holds for errors made by either build of this package (ESM or
   * CJS), which a program loading both (directly and through a dependency) would otherwise see as
   * two unrelated classes.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && BRAND in value;
  }

  /** Always `'ERR_NO_NATIVE_BINDING'`. */
  readonly code: typeof ERR_NO_NATIVE_BINDING = ERR_NO_NATIVE_BINDING;
  /** The platform triple the binding was looked for, e.g. `linux-x64-gnu`. */
  readonly triple: string;
  /** The platform package that would fit, or `null` when this platform has none. */
  readonly packageName: string | null;
  /** Every place the loader tried, in order. */
  readonly attempts: readonly LoadAttempt[];

  /** Builds the error; the loader is the only one that needs to. */
  constructor(
    message: string,
    details: {
      triple: string;
      packageName: string | null;
      attempts: readonly LoadAttempt[];
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NativeBindingError';
    Object.defineProperty(this, BRAND, { value: true });
    this.triple = details.triple;
    this.packageName = details.packageName;
    this.attempts = details.attempts;
  }
}
