import type { ProtoJSSandbox } from '@hyperlight/js-host-api';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { HostCallError, HostModuleDefinitionError, issuesAt } from './errors';

/**
 * What an implementation receives after its validated arguments.
 * @public
 */
export interface HostCallContext {
  /**
   * Aborted when the function's `timeoutMs` passes (its reason is the {@link HostCallError} the
   * guest receives). Pass it on to `fetch`, database drivers, timers, so abandoned work stops.
   */
  readonly signal: AbortSignal;
  /** The host module's name (`db` for `host:db`). */
  readonly module: string;
  /** The function's name. */
  readonly function: string;
}

/**
 * A tuple of Standard Schemas, one per positional argument.
 * @public
 */
export type ArgumentSchemas = readonly StandardSchemaV1[];

/**
 * The values an implementation receives: each schema's output type.
 * @public
 */
export type InferArguments<S extends ArgumentSchemas> = {
  -readonly [I in keyof S]: StandardSchemaV1.InferOutput<S[I]>;
};

/**
 * The implementation of a host function with argument schemas: the validated arguments (each
 * schema's output), then the {@link HostCallContext}.
 * @public
 */
export type HostFunctionImplementation<S extends ArgumentSchemas, R> = (
  ...args: [...InferArguments<S>, HostCallContext]
) => R | Promise<R>;

/**
 * The description of a host function given to {@link hostFunction}.
 * @public
 */
export interface HostFunctionSpec<S extends ArgumentSchemas, R> {
  /**
   * One Standard Schema (zod, valibot, arktype, …) per positional argument. The guest's arguments
   * are validated before `handler` runs; a failure throws in the guest a catchable `Error` whose
   * message lists every issue (`ERR_HOST_ARGUMENTS`), and `handler` does not run. More
   * arguments than schemas is also `ERR_HOST_ARGUMENTS`; missing trailing arguments are
   * `undefined`, and an `undefined` in the middle arrives as `null` (arguments cross as JSON).
   */
  readonly args: S;
  /**
   * Validates the implementation's result before it goes to the guest (a failure is
   * `ERR_HOST_RESULT` in the guest); also types the result in {@link declareHostModules}.
   * @defaultValue no result validation
   */
  readonly returns?: StandardSchemaV1<unknown, R>;
  /**
   * Milliseconds the implementation may take, a positive integer up to 2,147,483,647. When it
   * passes, the guest's call throws `ERR_HOST_TIMEOUT` and the context's `signal` is aborted.
   * @defaultValue the module's `timeoutMs`, else no limit
   */
  readonly timeoutMs?: number;
  /**
   * Parameter names for {@link declareHostModules}, in order.
   * @defaultValue `arg0`, `arg1`, …
   */
  readonly params?: readonly string[];
  /**
   * A sentence for the TSDoc of the generated declaration.
   * @defaultValue none
   */
  readonly description?: string;
  /** The implementation. */
  readonly handler: HostFunctionImplementation<S, R>;
}

const DEFINITION = Symbol.for('@hyperlight/host-modules.function');

/**
 * A host function with argument schemas, made by {@link hostFunction}.
 * @public
 */
export interface HostFunctionDefinition<S extends ArgumentSchemas = ArgumentSchemas, R = unknown> {
  /** The spec it was made from (frozen). */
  readonly spec: HostFunctionSpec<S, R>;
}

/**
 * A plain host function: receives the guest's arguments as they arrive (parsed JSON, not
 * validated) and returns a value or a Promise. Prefer {@link hostFunction} for anything an
 * untrusted guest can reach with arbitrary arguments.
 * @public
 */
// biome-ignore lint/suspicious/noExplicitAny: the guest's arguments are whatever it sends.
export type PlainHostFunction = (...args: any[]) => unknown;

/**
 * One entry of a host module: a {@link hostFunction} or a plain function.
 * @public
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema tuple and any result.
export type HostFunctionEntry = HostFunctionDefinition<any, any> | PlainHostFunction;

/**
 * The functions of a host module, by name.
 * @public
 */
export type HostFunctions = Readonly<Record<string, HostFunctionEntry>>;

/**
 * Options of {@link defineHostModule}.
 * @public
 */
export interface HostModuleOptions {
  /**
   * The default `timeoutMs` of every function of the module (a function's own wins).
   * @defaultValue no limit
   */
  readonly timeoutMs?: number;
}

/**
 * A host module: a name (imported in the guest as `host:<name>`) and its functions, validated and
 * time-limited as defined. It satisfies `@hyperlight/sandbox`'s `HostModuleLike`
 * (`{ name, install(proto) }`).
 * @public
 */
export interface HostModuleDefinition<
  N extends string = string,
  F extends HostFunctions = HostFunctions,
> {
  /** The module name: the guest imports `host:<name>`. */
  readonly name: N;
  /** The definitions, as given (frozen). */
  readonly functions: F;
  /** The module's options (frozen). */
  readonly options: HostModuleOptions;
  /**
   * Registers every function on `proto` (`proto.hostModule(name).register(…)`), before
   * `proto.loadRuntime()`. The binding's errors pass through: installing the same module twice
   * on one sandbox is `ERR_INVALID_ARG` (a function registered twice).
   */
  install(proto: Pick<ProtoJSSandbox, 'hostModule'>): void;
  /**
   * Runs one function exactly as a guest call would (arity check, validation, timeout, result
   * validation) without a sandbox, e.g. in a unit test. Resolves to the implementation's result
   * (before the JSON round trip) or rejects with what the guest would see.
   */
  invoke(functionName: keyof F & string, args: readonly unknown[]): Promise<unknown>;
}

/** Longest module or function name accepted, in UTF-8 bytes (the binding's limit). */
const MAX_NAME_BYTES = 256;
const MAX_TIMEOUT_MS = 2_147_483_647;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const MODULE_NAME = /^[A-Za-z0-9_$][\w$.-]*$/;
const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await'.split(
    ' ',
  ),
);

/** Whether `value` is a Standard Schema (v1). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as Partial<StandardSchemaV1>)['~standard'];
  return (
    typeof props === 'object' &&
    props !== null &&
    props.version === 1 &&
    typeof props.validate === 'function'
  );
}

/** Checks a `timeoutMs`; returns it. */
export function checkTimeout(what: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > MAX_TIMEOUT_MS
  ) {
    throw new HostModuleDefinitionError(
      `${what} must be an integer from 1 to ${MAX_TIMEOUT_MS} (milliseconds), got ${describe(value)}`,
    );
  }
  return value;
}

/** A short description of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/**
 * Defines a host function with one Standard Schema per argument, an optional result schema and
 * an optional timeout. Use it as an entry of {@link defineHostModule}.
 *
 * @example
 * ```ts
 * const get = hostFunction({
 *   args: [z.string().uuid()],
 *   timeoutMs: 500,
 *   handler: async (id, { signal }) => users.find(id, { signal }),
 * });
 * ```
 * @throws {@link HostModuleDefinitionError} (`ERR_INVALID_ARG`) when `args` is not an array of
 * Standard Schemas, `returns` is not one, `timeoutMs` is not a positive integer, `params` is not
 * an array of identifiers, or `handler` is not a function.
 * @public
 */
export function hostFunction<const S extends ArgumentSchemas, R>(
  spec: HostFunctionSpec<S, R>,
): HostFunctionDefinition<S, R> {
  if (typeof spec !== 'object' || spec === null) {
    throw new HostModuleDefinitionError(
      `hostFunction() takes a spec object, got ${describe(spec)}`,
    );
  }
  const known = new Set(['args', 'returns', 'timeoutMs', 'params', 'description', 'handler']);
  for (const key of Object.keys(spec)) {
    if (!known.has(key)) {
      throw new HostModuleDefinitionError(
        `hostFunction(): unknown option ${JSON.stringify(key)} (known: ${[...known].join(', ')})`,
      );
    }
  }
  if (!Array.isArray(spec.args)) {
    throw new HostModuleDefinitionError(
      `hostFunction(): args must be an array of Standard Schemas (one per argument), got ${describe(spec.args)}`,
    );
  }
  for (const [i, schema] of spec.args.entries()) {
    if (!isStandardSchema(schema)) {
      throw new HostModuleDefinitionError(
        `hostFunction(): args[${i}] is not a Standard Schema (v1): use a zod, valibot or arktype schema, or any object with a '~standard' property`,
      );
    }
  }
  if (spec.returns !== undefined && !isStandardSchema(spec.returns)) {
    throw new HostModuleDefinitionError('hostFunction(): returns is not a Standard Schema (v1)');
  }
  checkTimeout('hostFunction(): timeoutMs', spec.timeoutMs);
  if (spec.params !== undefined) {
    if (!Array.isArray(spec.params) || spec.params.length > spec.args.length) {
      throw new HostModuleDefinitionError(
        'hostFunction(): params must be an array of at most one name per argument',
      );
    }
    for (const name of spec.params) checkIdentifier('hostFunction(): a parameter name', name);
  }
  if (spec.description !== undefined && typeof spec.description !== 'string') {
    throw new HostModuleDefinitionError('hostFunction(): description must be a string');
  }
  if (typeof spec.handler !== 'function') {
    throw new HostModuleDefinitionError(
      `hostFunction(): handler must be a function, got ${describe(spec.handler)}`,
    );
  }
  const frozen = Object.freeze({ ...spec, args: Object.freeze([...spec.args]) as unknown as S });
  return Object.freeze({ spec: frozen, [DEFINITION]: true }) as HostFunctionDefinition<S, R>;
}

/** Whether `entry` was made by {@link hostFunction}. */
export function isHostFunctionDefinition(entry: unknown): entry is HostFunctionDefinition {
  return typeof entry === 'object' && entry !== null && DEFINITION in entry;
}

function checkIdentifier(what: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name) || RESERVED.has(name)) {
    throw new HostModuleDefinitionError(
      `${what} must be a JavaScript identifier that is not a reserved word, got ${describe(name)}`,
    );
  }
}

/** A function name: an identifier name (reserved words included, as `kv.delete`), not `default`. */
function checkFunctionName(what: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name) || name === 'default') {
    throw new HostModuleDefinitionError(
      `${what} must be a JavaScript identifier name other than default, got ${describe(name)}`,
    );
  }
}

/** Whether `name` is a reserved word (it can be an export name but not a declared binding). */
export function isReservedWord(name: string): boolean {
  return RESERVED.has(name);
}

function checkModuleName(name: unknown): asserts name is string {
  if (
    typeof name !== 'string' ||
    !MODULE_NAME.test(name) ||
    Buffer.byteLength(name) > MAX_NAME_BYTES
  ) {
    throw new HostModuleDefinitionError(
      `defineHostModule(): the module name must be 1-${MAX_NAME_BYTES} letters, digits, '_', '$', '.' or '-' (not starting with '.' or '-'), got ${describe(name)}`,
    );
  }
}

/**
 * Defines a host module: a name and its functions, each a {@link hostFunction} (validated,
 * time-limited) or a plain function. Install it with `module.install(proto)` before
 * `proto.loadRuntime()`, or list it in a `@hyperlight/sandbox` definition's `hostModules`; the
 * guest imports it as `host:<name>`. For the guest's view of its types see {@link GuestModule}
 * and {@link declareHostModules}.
 *
 * @example
 * ```ts
 * const db = defineHostModule('db', {
 *   get: hostFunction({ args: [z.string()], handler: async (id) => users.get(id) ?? null }),
 *   count: () => users.size,
 * }, { timeoutMs: 1000 });
 * db.install(proto); // guest: import { get } from 'host:db';
 * ```
 * @throws {@link HostModuleDefinitionError} (`ERR_INVALID_ARG`) for a module name other than
 * 1-256 of `[A-Za-z0-9_$.-]` (not starting with `.` or `-`), a function name that is not a
 * JavaScript identifier name (reserved words such as `delete` are fine) or is `default`, an entry that is neither a function nor a
 * {@link hostFunction}, no functions at all, or a bad `timeoutMs`.
 * @public
 */
export function defineHostModule<const N extends string, const F extends HostFunctions>(
  name: N,
  functions: F,
  options: HostModuleOptions = {},
): HostModuleDefinition<N, F> {
  checkModuleName(name);
  if (typeof functions !== 'object' || functions === null || Array.isArray(functions)) {
    throw new HostModuleDefinitionError(
      `defineHostModule(${JSON.stringify(name)}): functions must be an object of functions, got ${describe(functions)}`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new HostModuleDefinitionError(
      `defineHostModule(${JSON.stringify(name)}): options must be an object`,
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== 'timeoutMs') {
      throw new HostModuleDefinitionError(
        `defineHostModule(${JSON.stringify(name)}): unknown option ${JSON.stringify(key)} (known: timeoutMs)`,
      );
    }
  }
  const moduleTimeout = checkTimeout(
    `defineHostModule(${JSON.stringify(name)}): timeoutMs`,
    options.timeoutMs,
  );
  const entries = Object.entries(functions);
  if (entries.length === 0) {
    throw new HostModuleDefinitionError(
      `defineHostModule(${JSON.stringify(name)}): a host module needs at least one function`,
    );
  }
  const wrappers = new Map<string, (...args: unknown[]) => unknown>();
  for (const [fname, entry] of entries) {
    checkFunctionName(`defineHostModule(${JSON.stringify(name)}): the function name`, fname);
    if (typeof entry !== 'function' && !isHostFunctionDefinition(entry)) {
      throw new HostModuleDefinitionError(
        `defineHostModule(${JSON.stringify(name)}): ${fname} must be a function or a hostFunction({...}), got ${describe(entry)}`,
      );
    }
    wrappers.set(fname, wrap(name, fname, entry, moduleTimeout));
  }
  const frozenOptions = Object.freeze({ ...options });
  const frozenFunctions = Object.freeze({ ...functions });
  return Object.freeze({
    name,
    functions: frozenFunctions,
    options: frozenOptions,
    install(proto: Pick<ProtoJSSandbox, 'hostModule'>): void {
      if (typeof proto !== 'object' || proto === null || typeof proto.hostModule !== 'function') {
        throw new HostModuleDefinitionError(
          `host module ${JSON.stringify(name)}: install() takes a ProtoJSSandbox, got ${describe(proto)}`,
        );
      }
      const target = proto.hostModule(name);
      for (const [fname, wrapper] of wrappers) target.register(fname, wrapper);
    },
    invoke(functionName: string, args: readonly unknown[]): Promise<unknown> {
      const wrapper = wrappers.get(functionName);
      if (!wrapper) {
        return Promise.reject(
          new HostModuleDefinitionError(
            `host module ${JSON.stringify(name)} has no function ${JSON.stringify(functionName)}`,
          ),
        );
      }
      try {
        return Promise.resolve(wrapper(...args));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  });
}

/** Whether `value` is a thenable (a Promise or alike). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * The function registered with the binding for one entry. It stays synchronous while everything
 * it runs is (the schemas' `validate`, the implementation): the binding answers a synchronous
 * result without waiting for a Promise, which makes a host call measurably cheaper (see
 * `bench/overhead.mjs`). A Promise anywhere makes the rest asynchronous.
 */
function wrap(
  moduleName: string,
  fname: string,
  entry: HostFunctionEntry,
  moduleTimeout: number | undefined,
): (...args: unknown[]) => unknown {
  const qualified = `host:${moduleName}.${fname}`;
  if (typeof entry === 'function') {
    return (...args) =>
      withTimeout(qualified, moduleTimeout, moduleName, fname, () => entry(...args));
  }
  const spec = entry.spec as HostFunctionSpec<ArgumentSchemas, unknown>;
  const schemas: readonly StandardSchemaV1[] = spec.args;
  const timeout = spec.timeoutMs ?? moduleTimeout;
  const checkResult = (result: unknown): unknown => {
    if (!spec.returns) return result;
    const checked = spec.returns['~standard'].validate(result);
    const finish = (r: StandardSchemaV1.Result<unknown>) => {
      if (r.issues) {
        throw new HostCallError(
          'ERR_HOST_RESULT',
          qualified,
          'the result failed its schema',
          issuesAt(['result'], r.issues),
        );
      }
      return r.value;
    };
    return checked instanceof Promise ? checked.then(finish) : finish(checked);
  };
  const run = (values: unknown[]): unknown => {
    const result = withTimeout(qualified, timeout, moduleName, fname, (ctx) =>
      spec.handler(...(values as InferArguments<ArgumentSchemas>), ctx),
    );
    return isThenable(result) ? Promise.resolve(result).then(checkResult) : checkResult(result);
  };
  return (...raw) => {
    if (raw.length > schemas.length) {
      throw new HostCallError(
        'ERR_HOST_ARGUMENTS',
        qualified,
        `expected at most ${schemas.length} argument${schemas.length === 1 ? '' : 's'}, got ${raw.length}`,
      );
    }
    const results = schemas.map((schema, i) => schema['~standard'].validate(raw[i]));
    const decide = (settled: StandardSchemaV1.Result<unknown>[]): unknown => {
      const issues = settled.flatMap((r, i) => (r.issues ? issuesAt([i], r.issues) : []));
      if (issues.length > 0) {
        throw new HostCallError(
          'ERR_HOST_ARGUMENTS',
          qualified,
          `${issues.length} invalid argument${issues.length === 1 ? '' : 's'}`,
          issues,
        );
      }
      return run(settled.map((r) => (r as StandardSchemaV1.SuccessResult<unknown>).value));
    };
    return results.some((r) => r instanceof Promise)
      ? Promise.all(results).then(decide)
      : decide(results as StandardSchemaV1.Result<unknown>[]);
  };
}

/**
 * Runs `run` with a context whose signal aborts after `timeoutMs`. A synchronous result (or
 * throw) passes straight through; a Promise is raced with the timeout, which rejects with
 * `ERR_HOST_TIMEOUT` and aborts the signal.
 */
function withTimeout(
  qualified: string,
  timeoutMs: number | undefined,
  moduleName: string,
  fname: string,
  run: (ctx: HostCallContext) => unknown,
): unknown {
  const controller = new AbortController();
  const ctx: HostCallContext = Object.freeze({
    signal: controller.signal,
    module: moduleName,
    function: fname,
  });
  const result = run(ctx);
  if (timeoutMs === undefined || !isThenable(result)) return result;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new HostCallError(
        'ERR_HOST_TIMEOUT',
        qualified,
        `did not finish within ${timeoutMs} ms`,
      );
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    result.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Installs several host modules on a sandbox: `module.install(proto)` for each.
 * @throws {@link HostModuleDefinitionError} (`ERR_INVALID_ARG`) when two modules share a name
 * (before installing any).
 * @public
 */
export function installHostModules(
  proto: Pick<ProtoJSSandbox, 'hostModule'>,
  modules: readonly {
    readonly name: string;
    install(proto: Pick<ProtoJSSandbox, 'hostModule'>): void;
  }[],
): void {
  const seen = new Set<string>();
  for (const module of modules) {
    if (seen.has(module.name)) {
      throw new HostModuleDefinitionError(
        `installHostModules(): two host modules are named ${JSON.stringify(module.name)}`,
      );
    }
    seen.add(module.name);
  }
  for (const module of modules) module.install(proto);
}
