import type { HostFunction, ProtoJSSandbox } from '@hyperlight/js-host-api';
import { isMonitor, isMonitorSet, type Monitor, type MonitorInput } from '@hyperlight/monitors';
import { invalidArg } from './errors';

/**
 * The shape of one handler in a handler map: a function of the event.
 * @public
 */
// biome-ignore lint/suspicious/noExplicitAny: any event type is allowed in the map.
export type HandlerFunction = (event: any) => unknown;

/**
 * The handler map of an untyped definition: any routing key, any event, and an `unknown` result
 * (results come from untrusted code: check them, or give the definition a handler map).
 * @public
 */
export type AnyHandlers = Record<string, (event: unknown) => unknown>;

/**
 * The routing keys of a handler map `H`.
 * @public
 */
export type HandlerName<H> = keyof H & string;

/**
 * The event type of a handler function type: its first parameter (`undefined` for a function
 * without parameters). For anything that is not a function type, e.g. the `unknown` of a handler
 * map inferred from an untyped definition's keys, `unknown` (any event is accepted).
 * @public
 */
export type EventOf<F> = F extends (...args: infer A) => unknown
  ? A extends []
    ? undefined
    : A[0]
  : unknown;

/**
 * The result type of a handler function type, as a call resolves to it (awaited); `unknown` for
 * anything that is not a function type.
 * @public
 */
export type ResultOf<F> = F extends (...args: never[]) => infer R ? Awaited<R> : unknown;

/**
 * What a host module's per-call hook receives: which call is about to run.
 * @public
 */
export interface HostModuleCallContext {
  /** The routing key of the handler about to be called. */
  readonly handler: string;
  /**
   * An id of this call, unique in the process (a positive integer that grows by one per call
   * made by any sandbox or pool of this package), e.g. to tag log records with.
   */
  readonly callId: number;
  /** Which sandbox of a pool takes the call (0 to size − 1; 0 for {@link createSandbox}). */
  readonly sandboxId: number;
}

/**
 * What a host module's `install(proto)` may return: hooks bound to that one sandbox. A module
 * value is shared by every sandbox made from a definition (a pool runs calls on several at
 * once), so per-call state belongs to the installation, not to the module value.
 * @public
 */
export interface HostModuleInstallation {
  /**
   * Called on the main thread before each call of the sandbox it was installed on, after the
   * previous call of that sandbox has ended, and before the guest can call the module. If it
   * throws, the call rejects with what it threw, the handler does not run and the sandbox is
   * left as it was.
   * @defaultValue none
   */
  beginCall?(call: HostModuleCallContext): void;
}

/**
 * A host module as `@hyperlight/host-modules` makes them (structural, so this package does not
 * depend on that one): `install(proto)` registers the module's functions with
 * `proto.hostModule(name).register(...)`, and may return a {@link HostModuleInstallation}
 * whose `beginCall` runs before every call of that sandbox (the `logModule` of
 * `@hyperlight/host-modules` uses it for its per-call limits and to tag records with the call).
 * @public
 */
export interface HostModuleLike {
  /** The module name: guest code imports `host:<name>`. */
  readonly name: string;
  /**
   * Registers the module's functions on `proto` (called once per sandbox, before the load).
   * @returns nothing, or per-sandbox hooks.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: modules whose install returns nothing fit.
  install(proto: ProtoJSSandbox): void | HostModuleInstallation;
}

/**
 * Receives each line of guest output of a definition's sandboxes: the binding's print sink
 * (`SandboxBuilder.setPrintSink`) plus which sandbox printed it.
 * @param line - the text of one `console.*` or `print` call, raw (control characters included:
 * escape it before writing it to a terminal).
 * @param level - `'print'`, `'debug'`, `'info'` (`console.log` too), `'warn'` or `'error'`.
 * @param sandboxId - which sandbox of a pool (0 to size − 1; 0 for {@link createSandbox}).
 * @public
 */
export type SandboxPrintSink = (line: string, level: PrintLevel, sandboxId: number) => void;

/**
 * The level of a line of guest output.
 * @public
 */
export type PrintLevel = 'print' | 'debug' | 'info' | 'warn' | 'error';

/**
 * Sizes of the micro-VM, in bytes (positive integers). Unset sizes keep the binding's defaults.
 * @public
 */
export interface SandboxSizes {
  /**
   * The guest's JavaScript heap.
   * @defaultValue 256 MiB
   */
  readonly heapBytes?: number;
  /**
   * Scratch memory, including the guest stack.
   * @defaultValue 8 MiB
   */
  readonly scratchBytes?: number;
  /**
   * The input buffer: bounds each event and each handler or module source.
   * @defaultValue 16 MiB
   */
  readonly inputBufferBytes?: number;
  /**
   * The output buffer: bounds each result and each host call's arguments.
   * @defaultValue 16 MiB
   */
  readonly outputBufferBytes?: number;
}

/**
 * Everything needed to make a ready sandbox, as one plain object: what {@link defineSandbox}
 * takes and {@link createSandbox} and {@link createPool} use. `H` is the handler map, e.g.
 * `interface Handlers { greet(event: { name: string }): { message: string } }` (the bundler
 * generates one), which types `sandbox.call()`.
 * @public
 */
export interface SandboxDefinition<H = AnyHandlers> {
  /**
   * The handlers: routing key → source of an ES module that defines a function named `handler`.
   * With a typed `H`, every key of `H` must be present.
   */
  readonly handlers: { readonly [K in HandlerName<H>]: string };
  /**
   * User modules the handlers import: import specifier → source. A key without a namespace
   * (`'math'`) is imported as `user:math`; `'mylib:utils'` as `mylib:utils`. The `host`
   * namespace is reserved.
   * @defaultValue no modules
   */
  readonly modules?: Readonly<Record<string, string>>;
  /**
   * Host functions: module name → function name → function (see the binding's `HostFunction`);
   * guest code imports them as `host:<module>`. Each sandbox gets them, observed for monitors.
   * @defaultValue no host functions
   */
  readonly hostFunctions?: Readonly<Record<string, Readonly<Record<string, HostFunction>>>>;
  /**
   * Host modules (e.g. from `@hyperlight/host-modules`), installed in each sandbox, observed
   * for monitors.
   * @defaultValue none
   */
  readonly hostModules?: readonly HostModuleLike[];
  /**
   * Micro-VM sizes.
   * @defaultValue the binding's defaults
   */
  readonly sizes?: SandboxSizes;
  /**
   * Monitors of every call (from `@hyperlight/monitors`), raced with any given to the call
   * itself: a call can tighten these limits, never lift them.
   * @defaultValue no limits
   */
  readonly limits?: MonitorInput;
  /**
   * Limits of the load (the binding's `getLoadedSandbox()` options): `wallClock(ms)` and
   * `cpuTime(ms)` bound the guest code that runs at load time (the top level of the handlers and
   * of the modules they import), `signal(abortSignal)` stops every load made from the definition
   * (e.g. at shutdown), in {@link createSandbox}, in {@link createPool} and in a pool's
   * replacements. A load that hits one rejects with `ERR_CANCELLED` and `terminatedBy` naming
   * it, after releasing the micro-VM. Only those three kinds (alone or in `anyOf(...)`): other
   * monitors are `ERR_INVALID_ARG`.
   * @defaultValue no limits
   */
  readonly loadLimits?: MonitorInput;
  /**
   * Where the sandboxes' guest output goes (see {@link SandboxPrintSink}); also how monitors
   * see output (`outputBytes`, `onOutput`). Called on the main thread; lines may arrive shortly
   * after the call that printed them has returned (the binding delivers them asynchronously), so
   * per-call output accounting is best effort. An exception it throws is reported with
   * `process.emitWarning`.
   * @defaultValue the binding's default: the process's stdout and stderr, escaped; output is
   * then not seen by monitors, and a call whose monitors listen for output (`onOutput`) is
   * refused with `ERR_INVALID_ARG` before it runs
   */
  readonly printSink?: SandboxPrintSink;
  /**
   * Maps the guest stack of a handler's exception (`guestStack` of `ERR_HANDLER` errors), e.g.
   * to the TypeScript sources with the bundler's source-map mapper. If it throws, the stack is
   * left as it was.
   * @defaultValue none
   */
  readonly mapStack?: (stack: string) => string;
}

const SIZE_KEYS = ['heapBytes', 'scratchBytes', 'inputBufferBytes', 'outputBufferBytes'] as const;
const DEFINITION_KEYS = new Set([
  'handlers',
  'modules',
  'hostFunctions',
  'hostModules',
  'sizes',
  'limits',
  'loadLimits',
  'printSink',
  'mapStack',
]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(value: Record<string, unknown>, allowed: Set<string>, what: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw invalidArg(
        `${what} has an unknown key ${JSON.stringify(key)}; known: ${[...allowed].join(', ')}`,
      );
    }
  }
}

/**
 * Checks a definition and returns a frozen copy of it, so every sandbox made from it is the same.
 * Anything malformed (an unknown key, a handler source that is not a string, a size that is not
 * a positive integer, a host function that is not a function, a host module without `install`,
 * something in `limits` that is not a monitor) throws `ERR_INVALID_ARG` at once.
 *
 * @example
 * ```ts
 * interface Handlers { greet(event: { name: string }): { message: string } }
 * const definition = defineSandbox<Handlers>({
 *   handlers: { greet: 'function handler(e) { return { message: "Hello, " + e.name }; }' },
 *   limits: anyOf(wallClock(1000), cpuTime(100)),
 * });
 * ```
 * @public
 */
export function defineSandbox<H = AnyHandlers>(
  definition: SandboxDefinition<H>,
): SandboxDefinition<H> {
  if (isFrozenDefinition(definition)) return definition;
  if (!isPlainObject(definition)) throw invalidArg('a sandbox definition must be an object');
  checkKeys(definition, DEFINITION_KEYS, 'the sandbox definition');
  const handlers = copyStrings(definition.handlers, 'handlers');
  if (Object.keys(handlers).length === 0) {
    throw invalidArg('the sandbox definition needs at least one handler');
  }
  const modules =
    definition.modules === undefined ? {} : copyStrings(definition.modules, 'modules');
  for (const key of Object.keys(modules)) moduleSpecifier(key);
  const hostFunctions: Record<string, Record<string, HostFunction>> = {};
  if (definition.hostFunctions !== undefined) {
    if (!isPlainObject(definition.hostFunctions)) {
      throw invalidArg('hostFunctions must be an object: module name → function name → function');
    }
    for (const [module, fns] of Object.entries(definition.hostFunctions)) {
      if (!isPlainObject(fns))
        throw invalidArg(`hostFunctions.${module} must be an object of functions`);
      hostFunctions[module] = {};
      for (const [name, fn] of Object.entries(fns)) {
        if (typeof fn !== 'function') {
          throw invalidArg(`hostFunctions.${module}.${name} must be a function, not ${typeof fn}`);
        }
        hostFunctions[module][name] = fn as HostFunction;
      }
      Object.freeze(hostFunctions[module]);
    }
  }
  const hostModules = definition.hostModules ?? [];
  if (!Array.isArray(hostModules)) throw invalidArg('hostModules must be an array of host modules');
  for (const [i, m] of hostModules.entries()) {
    if (!isPlainObject(m) && typeof m !== 'object')
      throw invalidArg(`hostModules[${i}] is not a host module`);
    if (typeof m?.name !== 'string' || typeof m?.install !== 'function') {
      throw invalidArg(
        `hostModules[${i}] must have a string \`name\` and an \`install(proto)\` function`,
      );
    }
  }
  const sizes: Record<string, number> = {};
  if (definition.sizes !== undefined) {
    if (!isPlainObject(definition.sizes)) throw invalidArg('sizes must be an object');
    checkKeys(definition.sizes, new Set(SIZE_KEYS), 'sizes');
    for (const key of SIZE_KEYS) {
      const v = definition.sizes[key];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
        throw invalidArg(`sizes.${key} must be a positive safe integer (bytes), not ${String(v)}`);
      }
      sizes[key] = v;
    }
  }
  const limits = definition.limits;
  if (limits !== undefined && limits !== null && !isMonitor(limits) && !isMonitorSet(limits)) {
    throw invalidArg('limits must be a monitor or anyOf(...) from @hyperlight/monitors');
  }
  const loadLimits = definition.loadLimits;
  if (loadLimits !== undefined && loadLimits !== null) {
    if (!isMonitor(loadLimits) && !isMonitorSet(loadLimits)) {
      throw invalidArg('loadLimits must be a monitor or anyOf(...) from @hyperlight/monitors');
    }
    const all: readonly Monitor[] = isMonitor(loadLimits) ? [loadLimits] : loadLimits.monitors;
    for (const m of all) {
      if (m.kind !== 'wall-clock' && m.kind !== 'cpu-time' && m.kind !== 'signal') {
        throw invalidArg(
          `loadLimits takes wallClock(), cpuTime() and signal() monitors only; the \`${m.name}\` monitor cannot watch a load`,
        );
      }
    }
  }
  if (definition.printSink !== undefined && typeof definition.printSink !== 'function') {
    throw invalidArg('printSink must be a function (line, level, sandboxId) => void');
  }
  if (definition.mapStack !== undefined && typeof definition.mapStack !== 'function') {
    throw invalidArg('mapStack must be a function');
  }
  const frozen = Object.freeze({
    handlers: Object.freeze(handlers),
    modules: Object.freeze(modules),
    hostFunctions: Object.freeze(hostFunctions),
    hostModules: Object.freeze([...hostModules]),
    sizes: Object.freeze(sizes),
    ...(limits === undefined || limits === null ? {} : { limits }),
    ...(loadLimits === undefined || loadLimits === null ? {} : { loadLimits }),
    ...(definition.printSink === undefined ? {} : { printSink: definition.printSink }),
    ...(definition.mapStack === undefined ? {} : { mapStack: definition.mapStack }),
  }) as unknown as SandboxDefinition<H>;
  checked.add(frozen);
  return frozen;
}

const checked = new WeakSet<object>();

function isFrozenDefinition<H>(definition: SandboxDefinition<H>): boolean {
  return typeof definition === 'object' && definition !== null && checked.has(definition);
}

function copyStrings(value: unknown, what: string): Record<string, string> {
  if (!isPlainObject(value)) throw invalidArg(`${what} must be an object: name → source`);
  const out: Record<string, string> = {};
  for (const [key, source] of Object.entries(value)) {
    if (typeof source !== 'string') {
      throw invalidArg(
        `${what}[${JSON.stringify(key)}] must be a source string, not ${typeof source}`,
      );
    }
    out[key] = source;
  }
  return out;
}

/** Splits a module key into namespace and name: `'math'` → user:math, `'lib:x'` → lib:x. */
export function moduleSpecifier(key: string): { namespace: string; name: string } {
  const colon = key.indexOf(':');
  const namespace = colon < 0 ? 'user' : key.slice(0, colon);
  const name = colon < 0 ? key : key.slice(colon + 1);
  if (namespace === 'host') {
    throw invalidArg(
      `modules[${JSON.stringify(key)}]: the host namespace is reserved for host functions`,
    );
  }
  if (namespace.length === 0 || name.length === 0) {
    throw invalidArg(`modules[${JSON.stringify(key)}] must be 'name' or 'namespace:name'`);
  }
  return { namespace, name };
}
