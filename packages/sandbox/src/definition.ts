import type { HostFunction, ProtoJSSandbox } from '@hyperlight/js-host-api';
import { isMonitor, isMonitorSet, type MonitorInput } from '@hyperlight/monitors';
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
 * A host module as `@hyperlight/host-modules` makes them (structural, so this package does not
 * depend on that one): `install(proto)` registers the module's functions with
 * `proto.hostModule(name).register(...)`.
 * @public
 */
export interface HostModuleLike {
  /** The module name: guest code imports `host:<name>`. */
  readonly name: string;
  /** Registers the module's functions on `proto` (called once per sandbox, before the load). */
  install(proto: ProtoJSSandbox): void;
}

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
