import type { StandardSchemaV1 } from '@standard-schema/spec';
import type {
  ArgumentSchemas,
  HostFunctionDefinition,
  HostFunctions,
  HostModuleDefinition,
} from './define';

/**
 * A JSON value, as values cross the sandbox boundary.
 * @public
 */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * What a value of type `T` becomes after `JSON.stringify` and `JSON.parse`, which is how host
 * results reach the guest (and events and results cross between host and guest): `undefined`
 * (at the top) becomes `null`, a `Date` (anything with `toJSON()`) its JSON form, object
 * properties holding functions, symbols or `undefined` disappear, and in arrays they become
 * `null`. `bigint` cannot cross (`JSON.stringify` throws) and becomes `never`.
 * @public
 */
export type Jsonified<T> = unknown extends T
  ? unknown
  : // biome-ignore lint/suspicious/noConfusingVoidType: a `void` result reaches the guest as null.
    T extends undefined | void
    ? null
    : JsonifiedValue<T>;

/**
 * Values `JSON.stringify` leaves out of objects (and turns into `null` in arrays).
 * @public
 */
export type JsonDropped = undefined | symbol | ((...args: never[]) => unknown);

/**
 * The JSON form of a value inside an object or array (see {@link Jsonified}).
 * @public
 */
export type JsonifiedValue<T> = T extends {
  /** What `JSON.stringify` calls: its result is what crosses. */
  toJSON(): infer J;
}
  ? Jsonified<J>
  : T extends string | number | boolean | null
    ? T
    : T extends bigint
      ? never
      : T extends JsonDropped
        ? null
        : T extends readonly unknown[]
          ? { -readonly [K in keyof T]: JsonifiedValue<T[K]> }
          : T extends ReadonlyMap<unknown, unknown> | ReadonlySet<unknown>
            ? Record<string, never>
            : T extends object
              ? JsonifiedObject<T>
              : never;

/**
 * The keys of `T` that stay required in its JSON form: not symbols, never `undefined`, not
 * functions or symbols.
 * @public
 */
export type JsonRequiredKey<T, K extends keyof T> = K extends symbol
  ? never
  : undefined extends T[K]
    ? never
    : [T[K]] extends [JsonDropped]
      ? never
      : K;

/**
 * The keys of `T` that are optional in its JSON form: they accept `undefined` and otherwise hold
 * something that can cross.
 * @public
 */
export type JsonOptionalKey<T, K extends keyof T> = K extends symbol
  ? never
  : undefined extends T[K]
    ? [Exclude<T[K], undefined>] extends [JsonDropped]
      ? never
      : K
    : never;

/**
 * The JSON form of an object (see {@link Jsonified}).
 * @public
 */
export type JsonifiedObject<T> = {
  -readonly [K in keyof T as JsonRequiredKey<T, K>]: JsonifiedValue<T[K]>;
} & {
  -readonly [K in keyof T as JsonOptionalKey<T, K>]?: JsonifiedValue<Exclude<T[K], undefined>>;
} extends infer O
  ? { [K in keyof O]: O[K] }
  : never;

/**
 * `T` with its trailing elements that accept `undefined` made optional.
 * @public
 */
export type OptionalTail<T extends readonly unknown[]> = T extends readonly [
  ...infer Head,
  infer Last,
]
  ? undefined extends Last
    ? [...OptionalTail<Head>, Last?]
    : T
  : T;

/**
 * The guest's parameters of a function with argument schemas: each schema's *input* type
 * (the guest sends what the schema parses); trailing arguments whose schema accepts `undefined`
 * are optional.
 * @public
 */
export type GuestParameters<S extends ArgumentSchemas> = OptionalTail<{
  -readonly [I in keyof S]: StandardSchemaV1.InferInput<S[I]>;
}>;

/**
 * How the guest sees one host function: synchronous (the guest blocks until the host's promise
 * settles), parameters as the schemas' input types (a plain function's own parameters), and the
 * result as it arrives through JSON ({@link Jsonified} of the awaited result).
 *
 * @example
 * ```ts
 * // host: get: hostFunction({ args: [z.string()], handler: async (id): Promise<User> => … })
 * type Get = GuestFunction<typeof db.functions.get>; // (id: string) => User
 * ```
 * @public
 */
export type GuestFunction<F> =
  F extends HostFunctionDefinition<infer S, infer R>
    ? (...args: GuestParameters<S>) => Jsonified<Awaited<R>>
    : F extends (...args: infer A) => infer R
      ? (...args: A) => Jsonified<Awaited<R>>
      : never;

/**
 * The guest's view of a host module (the namespace `import * as db from 'host:db'` gives): one
 * synchronous function per host function ({@link GuestFunction}).
 *
 * In a TypeScript guest, declare the module with it (or use the text of
 * {@link declareHostModules}):
 *
 * @example
 * ```ts
 * import type { GuestModule } from '@hyperlight/host-modules';
 * import type { db } from '../host/db';
 * declare module 'host:db' {
 *   const api: GuestModule<typeof db>;
 *   export = api;
 * }
 * ```
 * @public
 */
export type GuestModule<M> =
  M extends HostModuleDefinition<string, infer F>
    ? GuestFunctions<F>
    : M extends HostFunctions
      ? GuestFunctions<M>
      : never;

/**
 * The guest's view of a record of host functions (see {@link GuestModule}).
 * @public
 */
export type GuestFunctions<F extends HostFunctions> = {
  readonly [K in keyof F]: GuestFunction<F[K]>;
};
