import { preparedBinding } from './binding';
import type { TerminatedBy } from './error-codes';
import { lazyNativeClass } from './lazy';

// The typed API of the native binding (crates/js-host-api). The binding's own generated
// declarations (crates/js-host-api/index.d.ts) are checked by a snapshot test; these add the
// documentation, the option defaults and `[Symbol.asyncDispose]`.

/**
 * A value that crosses the boundary between the host and the guest as JSON: what a host function
 * receives from the guest (after `JSON.parse`).
 * @public
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * A host function: receives the guest's arguments spread, each a {@link JsonValue} (the guest's
 * values after a JSON round trip: `undefined` arrives as `null` in arrays and is dropped from
 * objects; a parameter the guest did not pass is `undefined`), and returns a value or a Promise of one, which is `JSON.stringify`'d back to the guest
 * (`undefined` becomes `null`). A throw or a rejection becomes an `Error` thrown in the guest with
 * the same `message`; so does a result `JSON.stringify` refuses (a BigInt, a cycle).
 *
 * Parameters may be typed more narrowly than {@link JsonValue} (`(a: number, b: number) => a + b`):
 * the guest decides what it sends, so check untrusted arguments (or use `@hyperlight/host-modules`,
 * which validates them with a schema). The result is typed `unknown` because `JSON.stringify`
 * accepts more than a type can say (class instances, objects with `toJSON`).
 * @public
 */
export type HostFunction = {
  /**
   * A method signature, so that narrower parameter types are accepted (method parameters are
   * checked bivariantly).
   */
  bivarianceHack(...args: (JsonValue | undefined)[]): unknown;
}['bivarianceHack'];

/**
 * Creates and configures a sandbox. Every setter validates its argument at once (a positive safe
 * integer, else `ERR_INVALID_ARG`) and returns the builder, for chaining.
 *
 * @example
 * ```js
 * const builder = new SandboxBuilder().setHeapSize(8 * 1024 * 1024).setScratchSize(1024 * 1024);
 * const protoSandbox = await builder.build();
 * ```
 * @public
 */
export interface SandboxBuilder {
  /**
   * Sets the guest heap size in bytes: the memory of the guest's JavaScript engine.
   * @param bytes - a safe integer of at least 4 MiB (4194304): the runtime and its built-ins need
   * 1.5 MiB (measured), else `ERR_INVALID_ARG`.
   * @defaultValue 256 MiB (268435456)
   */
  setHeapSize(bytes: number): this;
  /**
   * Sets the guest scratch size in bytes, which includes the guest stack.
   * @param bytes - a safe integer of at least 256 KiB (262144) (measured: installing the built-ins
   * needs 80 KiB), else `ERR_INVALID_ARG`.
   * @defaultValue 8 MiB (8388608)
   */
  setScratchSize(bytes: number): this;
  /**
   * Sets the input buffer size in bytes: it bounds each event and each handler or module source
   * sent to the guest.
   * @param bytes - a positive safe integer.
   * @defaultValue 16 MiB (16777216)
   */
  setInputBufferSize(bytes: number): this;
  /**
   * Sets the output buffer size in bytes: it bounds each handler result and each host-function
   * call made by the guest.
   * @param bytes - a positive safe integer.
   * @defaultValue 16 MiB (16777216)
   */
  setOutputBufferSize(bytes: number): this;
  /**
   * Where guest `console.*` and `print` output goes: `sink(line, level)` is called on the main
   * thread for each line, with the raw text (control characters included). The guest never waits
   * for it: lines travel through bounded queues, and lines that do not fit are dropped and
   * reported by one line at level `'warn'`:
   * `[hyperlight-js: N lines of guest output were dropped: the output queue was full]`.
   * A line longer than the guest's print buffer arrives whole (up to
   * 4 MiB; longer lines arrive in 4 MiB pieces, each but the last ending with
   * `[hyperlight-js: line continues in the next record]`). `null` restores the default.
   * @param sink - a function, or `null`; anything else is `ERR_INVALID_ARG`.
   * @defaultValue the process's stdout (warnings and errors to stderr), written without ever
   * blocking the sandbox; terminal control characters (ESC, CSI, OSC, CR, BEL, bidi overrides)
   * are shown escaped (`\x1b`) and each embedded newline is followed by `| `, so guest output
   * can neither drive the terminal nor forge a line of its own.
   */
  setPrintSink(sink: PrintSink | null): this;
  /**
   * Sets the resolution of the guest's `performance.now()` in microseconds: readings are rounded
   * down to a multiple of it, so that timing attacks need many more repetitions. `Date.now()` has
   * millisecond resolution either way.
   * @param microseconds - an integer from 0 (full resolution, tens of nanoseconds) to 1,000,000,
   * else `ERR_INVALID_ARG`.
   * @defaultValue 5 µs, the coarsening the W3C High Resolution Time specification prescribes for
   * cross-origin-isolated pages
   */
  setClockResolutionUs(microseconds: number): this;
  /**
   * Sets the sandbox's default locale: what `Intl` and the locale-sensitive methods
   * (`toLocaleString()`, `localeCompare`) use when the handler names none.
   * `build()` rejects with `ERR_INVALID_ARG` for a malformed BCP 47 tag or a locale the guest
   * has no CLDR data for; a non-string throws `ERR_INVALID_ARG` at once.
   * @param locale - a BCP 47 language tag, such as `'de-CH'`.
   * @defaultValue `'en-US'`
   */
  setLocale(locale: string): this;
  /**
   * Sets the sandbox's default time zone for `Intl.DateTimeFormat` and
   * `Date.prototype.toLocaleString()` and its siblings (`Date`'s own local-time methods stay UTC).
   * `build()` rejects with `ERR_INVALID_ARG` for a zone not in the IANA database bundled in the
   * guest; a non-string throws `ERR_INVALID_ARG` at once.
   * @param timeZone - an IANA name such as `'Europe/Zurich'`, or an offset such as `'+05:30'`.
   * @defaultValue `'UTC'`
   */
  setTimeZone(timeZone: string): this;
  /**
   * Creates the micro-VM on its own OS thread and boots the guest. Consumes the builder: a second
   * call rejects with `ERR_CONSUMED`.
   * Rejects with `ERR_NO_HYPERVISOR` when `/dev/kvm` cannot be used, saying what to fix.
   */
  build(): Promise<ProtoJSSandbox>;
}

/**
 * Receives each line of guest output (see `SandboxBuilder.setPrintSink`).
 * @param line - the text of one `console.*` or `print` call, raw.
 * @param level - `'print'`, `'debug'`, `'info'` (`console.log` too), `'warn'` or `'error'`.
 * @public
 */
export type PrintSink = (
  line: string,
  level: 'print' | 'debug' | 'info' | 'warn' | 'error',
) => void;

/**
 * Limits of `ProtoJSSandbox.loadRuntime()` and `JSSandbox.getLoadedSandbox()` on the guest code
 * that runs at load time (the top level of handlers and of the modules they import). Without a
 * timeout the load runs without monitors; with both, whichever fires first ends it with
 * `ERR_CANCELLED` (the sandbox stays usable).
 * @public
 */
export interface SandboxLoadOptions {
  /**
   * Wall-clock timeout in milliseconds, an integer from 1 to 3,600,000.
   * @defaultValue no wall-clock limit
   */
  wallClockTimeoutMs?: number;
  /**
   * CPU-time timeout in milliseconds, an integer from 1 to 3,600,000.
   * @defaultValue no CPU-time limit
   */
  cpuTimeoutMs?: number;
  /**
   * Cancels the load when the signal aborts, as for `callHandler`: an already-aborted signal
   * rejects at once, a queued load never runs, a running one is stopped politely and killed after
   * `abortGracePeriodMs`; the Promise rejects with `ERR_CANCELLED` (`terminatedBy: 'abort'`) and
   * the sandbox is usable again.
   * @defaultValue no signal
   */
  signal?: AbortSignal;
  /**
   * Milliseconds between an abort's polite stop and the kill: an integer from 0 to 3,600,000.
   * @defaultValue 100
   */
  abortGracePeriodMs?: number;
}

/**
 * Creates and configures a sandbox: `new SandboxBuilder()`, the setters, then
 * `await builder.build()`.
 *
 * The class is the native binding's own; it is loaded on first use, so importing this package
 * works everywhere and `new SandboxBuilder()` throws a `NativeBindingError`
 * (`code: 'ERR_NO_NATIVE_BINDING'`) on a machine that has no binding.
 * @class
 * @public
 */
export const SandboxBuilder = lazyNativeClass(
  'SandboxBuilder',
  preparedBinding,
) as unknown as new () => SandboxBuilder;

/**
 * The objects of the class `ProtoJSSandbox`.
 * @public
 */
export interface ProtoJSSandbox {
  /**
   * Loads the JavaScript runtime, applying every host function registered so far. Consumes this
   * object. `options` are validated like `getLoadedSandbox()`'s (no guest code runs at this step
   * today, so they never fire); unknown keys are `ERR_INVALID_ARG`.
   */
  loadRuntime(options?: SandboxLoadOptions): Promise<JSSandbox>;
  /**
   * A builder for the functions of host module `name`, imported in the guest as
   * `import * as m from "host:<name>"`. Throws `ERR_INVALID_ARG` when `name` is empty.
   */
  hostModule(name: string): HostModule;
  /**
   * Registers one host function: shorthand for
   * `hostModule(moduleName).register(functionName, callback)`.
   */
  register(moduleName: string, functionName: string, callback: HostFunction): void;
  /**
   * Releases the micro-VM now, rather than when the object is garbage collected; the object is
   * consumed (`ERR_CONSUMED` afterwards). Does nothing if it was already consumed.
   */
  dispose(): Promise<void>;
  /** The same as `dispose()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A booted sandbox waiting for the JavaScript runtime. Register host functions here, before
 * `ProtoJSSandbox.loadRuntime()`.
 * @class
 * @hideconstructor
 * @public
 */
export const ProtoJSSandbox = lazyNativeClass(
  'ProtoJSSandbox',
  preparedBinding,
) as unknown as NativeClass<ProtoJSSandbox>;

/**
 * The objects of the class `HostModule`.
 * @public
 */
export interface HostModule {
  /** The module name: guest code imports `host:<name>`. */
  readonly name: string;
  /**
   * Registers the function `name` of this module (see {@link HostFunction}); returns this module
   * for chaining. Throws `ERR_INVALID_ARG` when `name` is empty or already registered.
   */
  register(name: string, callback: HostFunction): this;
}

/**
 * Registers functions of one host module.
 * @class
 * @hideconstructor
 * @public
 */
export const HostModule = lazyNativeClass(
  'HostModule',
  preparedBinding,
) as unknown as NativeClass<HostModule>;

/**
 * The objects of the class `JSSandbox`.
 * @public
 */
export interface JSSandbox {
  /**
   * Adds a handler under a routing key. `code` must define a function named `handler`; it may
   * import user modules (`user:<name>`), host modules (`host:<name>`) and built-ins. An empty or
   * non-string name, non-string code, or a key already added is `ERR_INVALID_ARG`; after
   * `getLoadedSandbox()` was called it is `ERR_CONSUMED`.
   */
  addHandler(name: string, code: string): void;
  /**
   * Removes the handler with that routing key.
   * @returns `true` if a handler was removed, `false` if none has that key.
   */
  removeHandler(name: string): boolean;
  /** Removes every handler. */
  clearHandlers(): void;
  /**
   * Adds an ES module importable as `<namespace>:<name>`. An empty name, a module already added,
   * or the namespace `host` is `ERR_INVALID_ARG`; after `getLoadedSandbox()` was called it is
   * `ERR_CONSUMED`.
   * @param namespace - the import prefix; `host` is reserved for host modules.
   * @defaultValue namespace: `'user'`
   */
  addModule(name: string, source: string, namespace?: string): void;
  /**
   * Removes a module.
   * @returns `true` if a module was removed, `false` if there is no such module.
   * @defaultValue namespace: `'user'`
   */
  removeModule(name: string, namespace?: string): boolean;
  /** Removes every module. */
  clearModules(): void;
  /**
   * Serves the imports of `namespace` that no added module answers from files under `directory`:
   * `import { x } from './lib/x.js'` in a handler loads `<directory>/lib/x.js`, and relative
   * imports inside it resolve against its directory. A path that resolves outside `directory`
   * (through `..` or a symbolic link) is refused, as is anything but a regular file. Modules are
   * read when first imported (at load for static imports, during a call for `import()`), so a
   * missing file fails `getLoadedSandbox()` with `ERR_INVALID_ARG` naming the importer. JSON,
   * text and bytes files are imported with `with { type: 'json' | 'text' | 'bytes' }`. The
   * directory is opened now: a missing or unreadable one is `ERR_INVALID_ARG`. Replaces the
   * namespace's previous directory and is kept by `unload()`; after `getLoadedSandbox()` was
   * called it is `ERR_CONSUMED`.
   * @param namespace - the namespace served; `host` is reserved.
   * @defaultValue namespace: `'user'`
   */
  setModuleDirectory(directory: string, namespace?: string): void;
  /**
   * Whether an earlier failure left this sandbox's VM unusable (it then cannot load handlers:
   * build a new sandbox). `false` for every sandbox that `loadRuntime()` or `unload()` returns.
   */
  readonly poisoned: boolean;
  /**
   * Sends the modules and handlers to the guest and compiles the handlers (modules compile when
   * first imported). Consumes this object on success (a second call rejects with `ERR_CONSUMED`;
   * registry edits made afterwards have no effect on the `LoadedJSSandbox`); on failure (e.g. a
   * syntax error, a missing import) it rejects and this object stays usable with its handlers and
   * modules.
   *
   * `options` bounds the code that runs at load time like a call (see {@link SandboxLoadOptions}); a load
   * that hits a limit, is killed through `interruptHandle`, or is stopped by `dispose()` rejects
   * with `ERR_CANCELLED`.
   */
  getLoadedSandbox(options?: SandboxLoadOptions): Promise<LoadedJSSandbox>;
  /**
   * A handle whose `kill()` stops a `getLoadedSandbox()` running (or about to run) in this
   * sandbox; `null` once the sandbox was released. A getter.
   */
  readonly interruptHandle: InterruptHandle | null;
  /**
   * Releases the micro-VM now, rather than when the object is garbage collected, stopping a load
   * that runs on it; the object is consumed (`ERR_CONSUMED` afterwards). Does nothing if it was
   * already consumed.
   */
  dispose(): Promise<void>;
  /** The same as `dispose()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A sandbox with the JavaScript runtime loaded. Handlers and modules are added synchronously and
 * sent to the guest by `JSSandbox.getLoadedSandbox()`.
 *
 * The registry methods (`addHandler`, `removeHandler`, `clearHandlers`, `addModule`,
 * `removeModule`, `clearModules`) edit a host-side registry, which `getLoadedSandbox()` sends to
 * the guest. Once `getLoadedSandbox()` has been called (while it runs, and after it succeeded),
 * `addHandler` and `addModule` throw `ERR_CONSUMED`: the code would never reach the guest, and
 * ignoring it would hide a bug (to change the handlers of a loaded sandbox, `unload()` it and use
 * the `JSSandbox` that returns). Removing stays harmless: `removeHandler`/`removeModule` return
 * `false` and the `clear` methods do nothing, since nothing is left to remove. If the load fails,
 * the registry comes back as it was. Argument errors are `ERR_INVALID_ARG` in every state.
 * @class
 * @hideconstructor
 * @public
 */
export const JSSandbox = lazyNativeClass(
  'JSSandbox',
  preparedBinding,
) as unknown as NativeClass<JSSandbox>;

/**
 * Options of `LoadedJSSandbox.callHandler()`. Without a timeout the handler runs without
 * monitors; with both, whichever fires first ends the call (`ERR_CANCELLED`, sandbox poisoned).
 * @public
 */
export interface CallHandlerOptions {
  /**
   * Wall-clock timeout in milliseconds, an integer from 1 to 3,600,000.
   * @defaultValue no wall-clock limit
   */
  wallClockTimeoutMs?: number;
  /**
   * CPU-time timeout in milliseconds, an integer from 1 to 3,600,000: catches compute-bound abuse.
   * @defaultValue no CPU-time limit
   */
  cpuTimeoutMs?: number;
  /**
   * Whether to run the guest's cycle collector after the call (once the answer is handed over, so
   * the call does not wait for it). It runs only when the guest heap grew by 64 KiB or more since
   * the last collection: reference counting has already freed every acyclic object. With `false`
   * the call leaves any cyclic garbage for a later collection.
   * @defaultValue true
   */
  gc?: boolean;
  /**
   * Cancels the call when the signal aborts. An already-aborted signal rejects at once without
   * running anything; a call still queued behind others rejects at once and never runs. A running
   * call is first stopped politely (the engine's own interrupt: the guest unwinds cleanly and the
   * sandbox is **not** poisoned); if the guest has not stopped after `abortGracePeriodMs` (it is
   * waiting on a host function, or inside a long native operation) it is killed and the sandbox
   * is poisoned. Either way the Promise rejects with `ERR_CANCELLED`, `terminatedBy: 'abort'` and
   * `cause: signal.reason`; an abort that happens before the Promise settles always wins, so a
   * result that arrives after it is discarded. The listener is removed when the call settles, so
   * one signal can serve many calls.
   * @defaultValue no signal
   */
  signal?: AbortSignal;
  /**
   * Milliseconds between an abort's polite stop and the kill: an integer from 0 to 3,600,000
   * (`0` kills at once).
   * @defaultValue 100
   */
  abortGracePeriodMs?: number;
}

/**
 * Options of `LoadedJSSandbox.evalScript()`: those of `callHandler` (but `gc`) and the script's
 * file name.
 * @public
 */
export interface EvalScriptOptions {
  /**
   * Names the script in stack traces (`at <anonymous> (name:1:7)`) and is the base of relative
   * `import()` specifiers in it (name it `<namespace>:<path>` to import beside it). A non-empty
   * string without NUL.
   * @defaultValue `'<script>'`
   */
  filename?: string;
  /** As in {@link CallHandlerOptions.wallClockTimeoutMs}. @defaultValue no wall-clock limit */
  wallClockTimeoutMs?: number;
  /** As in {@link CallHandlerOptions.cpuTimeoutMs}. @defaultValue no CPU-time limit */
  cpuTimeoutMs?: number;
  /** As in {@link CallHandlerOptions.signal}. @defaultValue no signal */
  signal?: AbortSignal;
  /** As in {@link CallHandlerOptions.abortGracePeriodMs}. @defaultValue 100 */
  abortGracePeriodMs?: number;
}

/**
 * Statistics of the most recent `LoadedJSSandbox.callHandler()` call.
 * @public
 */
export interface CallStats {
  /** Wall-clock time of the call in milliseconds. */
  readonly wallClockMs: number;
  /** CPU time of the sandbox thread over the call in milliseconds; `null` when not measured. */
  readonly cpuTimeMs: number | null;
  /**
   * What ended the call: a monitor (`'wall-clock'`, `'cpu-time'`), its `AbortSignal`
   * (`'abort'`), or `null` when it ended by itself or by `interruptHandle.kill()`.
   */
  readonly terminatedBy: TerminatedBy;
  /**
   * VM exits during the call (each costs the machine's exit price, tens of microseconds): one
   * for a call through the sandbox's thread plus one per host-function call, print flush or timer
   * wait; 0 for a warm call answered in memory, host-function calls included (see
   * `docs/warm-path.md`). Always set by `LoadedJSSandbox.lastCallStats`; optional so that layers
   * above can report calls that never reached the VM.
   */
  readonly vmExits?: number;
}

/**
 * The objects of the class `Snapshot`.
 * @public
 */
export interface Snapshot {
  /** @internal Snapshots are opaque. */
  readonly __snapshot?: never;
}

/**
 * An opaque point-in-time copy of a loaded sandbox, from `LoadedJSSandbox.snapshot()`.
 * @class
 * @hideconstructor
 * @public
 */
export const Snapshot = lazyNativeClass(
  'Snapshot',
  preparedBinding,
) as unknown as NativeClass<Snapshot>;

/**
 * The objects of the class `InterruptHandle`.
 * @public
 */
export interface InterruptHandle {
  /**
   * Stops the oldest call (or load) whose Promise has not settled: it rejects with
   * `ERR_CANCELLED` (`terminatedBy: null`) and a killed call poisons the sandbox. That includes a
   * call that is queued or starting (e.g. `kill()` in the same tick as `callHandler()`): it is
   * cancelled as it starts, before any guest code runs. A call that already finished (its result
   * is on its way), or nothing pending: `kill()` does nothing, and it never affects a later call.
   * Returns at once, whatever the sandbox is doing.
   * @returns whether a call or load was hit.
   */
  kill(): boolean;
  /**
   * The polite stop: asks the guest engine to stop the running call at its next interrupt check
   * (every few thousand bytecodes). The call rejects with `ERR_CANCELLED` (`terminatedBy: null`)
   * and the sandbox is **not** poisoned. A guest waiting on a host function or inside a long
   * native operation stops only once that returns, so keep `kill()` as the backstop (or pass
   * `signal` to `callHandler`, which does both).
   * @returns whether a call was running.
   */
  requestInterrupt(): boolean;
}

/**
 * Stops the handler call running in a sandbox; usable from a timer, a signal handler or any
 * callback while a call runs.
 * @class
 * @hideconstructor
 * @public
 */
export const InterruptHandle = lazyNativeClass(
  'InterruptHandle',
  preparedBinding,
) as unknown as NativeClass<InterruptHandle>;

/**
 * The objects of the class `LoadedJSSandbox`.
 * @public
 */
export interface LoadedJSSandbox {
  /**
   * Calls the handler routed by `handlerName` with `eventData` (any JSON-serialisable value) and
   * resolves to its result (after a JSON round trip). Rejects with `ERR_HANDLER` when the handler
   * throws (whatever it throws) or returns a promise that never settles, `ERR_CANCELLED` when a
   * monitor, the `signal`, `kill()` or `requestInterrupt()` ends it, `ERR_POISONED` on a poisoned
   * sandbox, `ERR_INVALID_ARG` for a bad argument or an unknown option key, and also when called
   * from a host function of this same sandbox while its call waits for that function (it would
   * wait for itself forever).
   * @typeParam R - the type the caller expects the result to have. It is not checked: the
   * result is whatever the guest returned, so validate it when the handler is untrusted.
   */
  callHandler<R = unknown>(
    handlerName: string,
    eventData: unknown,
    options?: CallHandlerOptions,
  ): Promise<R>;
  /**
   * Evaluates `source` as a classic script (global code, as a `<script>` element or Node's
   * `vm.runInThisContext` runs it: sloppy unless it starts with `'use strict'`) in the sandbox's
   * realm, runs the pending jobs, and resolves to its completion value after a JSON round trip
   * (`undefined` when the value is `undefined`, a function or a symbol; a Promise is not awaited
   * and serialises as `{}`: see docs/scripts.md). Top-level `let`, `const`
   * and `class` declarations stay visible to later scripts and to handlers; `var` and function
   * declarations become properties of the global object; both last until the next `restore()` or
   * `unload()`. Use it to set up shared state, polyfills or configuration after the load.
   * Rejects with `ERR_HANDLER` when the script throws or has a syntax error (the effects up to the
   * throw remain), or when its completion value cannot be expressed in JSON (a BigInt, a cycle:
   * name `ResultError`, after the script ran); `ERR_CANCELLED` when a timeout, the `signal`, `kill()`
   * or `requestInterrupt()` ends it; `ERR_POISONED`, `ERR_CONSUMED`; `ERR_INVALID_ARG` for a source
   * that is not a string or larger than the input buffer, a bad `filename` or an unknown option.
   * Scripts queue with calls (one at a time, in order) and set `lastCallStats`.
   * @example
   * ```ts
   * await loaded.evalScript('const config = { greeting: "hi" };');
   * // handlers now see `config`
   * await loaded.evalScript('1 + 1'); // 2
   * ```
   */
  evalScript<R = unknown>(source: string, options?: EvalScriptOptions): Promise<R>;
  /**
   * Drops every handler and module and returns to the state right after `loadRuntime()`, also from
   * a poisoned sandbox. Consumes this object.
   */
  unload(): Promise<JSSandbox>;
  /** Captures the sandbox's state; rejects with `ERR_POISONED` on a poisoned sandbox. */
  snapshot(): Promise<Snapshot>;
  /**
   * Returns the sandbox to a snapshot taken from it since it was loaded; clears poisoning. A
   * snapshot of another sandbox (or of an earlier load) is `ERR_INVALID_ARG`.
   */
  restore(snapshot: Snapshot): Promise<void>;
  /** A handle that can kill the running call (a getter, not a method). */
  readonly interruptHandle: InterruptHandle;
  /** Whether the sandbox is poisoned: restore a snapshot or unload it. */
  readonly poisoned: boolean;
  /**
   * Statistics of the most recent call that ran, failed ones too; `null` before the first. A call
   * refused before it runs (an invalid argument, an unknown handler, a poisoned or consumed
   * sandbox) leaves it unchanged.
   */
  readonly lastCallStats: CallStats | null;
  /**
   * Releases the micro-VM now, rather than when the object is garbage collected; the object is
   * consumed (`ERR_CONSUMED` afterwards). Does nothing if it was already consumed.
   */
  dispose(): Promise<void>;
  /** The same as `dispose()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A sandbox with its handlers loaded. Calls on one sandbox are queued and run one at a time;
 * calls on different sandboxes run in parallel.
 * @class
 * @hideconstructor
 * @public
 */
export const LoadedJSSandbox = lazyNativeClass(
  'LoadedJSSandbox',
  preparedBinding,
) as unknown as NativeClass<LoadedJSSandbox>;

/**
 * The type of a class of the native binding whose objects this package makes (a transition returns
 * them): it works with `instanceof`, but is not constructed with `new`.
 * @typeParam T - the type of its objects.
 * @public
 */
export type NativeClass<T> = abstract new (...args: never[]) => T;
