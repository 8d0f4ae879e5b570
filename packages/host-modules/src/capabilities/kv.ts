import {
  defineHostModule,
  type HostFunctionDefinition,
  type HostModuleDefinition,
  hostFunction,
} from '../define';
import { HostCallError, HostModuleDefinitionError } from '../errors';
import type { JsonValue } from '../guest-types';
import {
  type CapabilitySchema,
  capabilitySchema,
  checkKeys,
  checkOptions,
  kind,
  limit,
  optionalStringSchema,
  utf8Bytes,
} from './schema';

/**
 * A key-value store behind {@link kvModule}: a `Map` is adapted to it, or bring your own (Redis,
 * a database table, …). Every method may be synchronous or return a Promise. Values are JSON
 * values, already checked against the module's limits.
 * @public
 */
export interface KvStore {
  /** The value of `key`, or `undefined` when there is none. */
  get(key: string): JsonValue | undefined | Promise<JsonValue | undefined>;
  /** Stores `value` under `key`. */
  set(key: string, value: JsonValue): void | Promise<void>;
  /** Removes `key`; whether it was there. */
  delete(key: string): boolean | Promise<boolean>;
  /** The keys starting with `prefix`, sorted, at most `limit` of them. */
  list(prefix: string, limit: number): readonly string[] | Promise<readonly string[]>;
  /**
   * Whether `key` exists (used to enforce `maxEntries` on new keys).
   * @defaultValue `get(key) !== undefined`
   */
  has?(key: string): boolean | Promise<boolean>;
  /**
   * How many entries there are (used to enforce `maxEntries`); without it `maxEntries` is not
   * enforced.
   * @defaultValue none
   */
  size?(): number | Promise<number>;
}

/**
 * Options of {@link kvModule}. Sizes are UTF-8 bytes; a value's size is that of its JSON text.
 * @public
 */
export interface KvModuleOptions {
  /**
   * Where the values live.
   * @defaultValue a new `Map`
   */
  readonly store?: Map<string, JsonValue> | KvStore;
  /**
   * The module name.
   * @defaultValue `'kv'`
   */
  readonly name?: string;
  /**
   * Longest key, in bytes.
   * @defaultValue 512
   */
  readonly maxKeyBytes?: number;
  /**
   * Largest value (its JSON text), in bytes.
   * @defaultValue 65536 (64 KiB)
   */
  readonly maxValueBytes?: number;
  /**
   * Most entries; a `set` of a new key beyond it is `ERR_HOST_LIMIT`. Needs a store with
   * `size()` (a `Map` has it).
   * @defaultValue 10000
   */
  readonly maxEntries?: number;
  /**
   * Most keys one `list` returns (the guest may ask for fewer).
   * @defaultValue 1000
   */
  readonly maxListKeys?: number;
  /**
   * Whether `set` and `delete` are refused (`ERR_HOST_DENIED`).
   * @defaultValue false
   */
  readonly readOnly?: boolean;
  /**
   * Milliseconds a store operation may take (`ERR_HOST_TIMEOUT`).
   * @defaultValue 5000
   */
  readonly timeoutMs?: number;
}

/**
 * The functions of {@link kvModule} as host functions; the guest sees
 * `get(key): JsonValue | null`, `set(key, value): null`, `delete(key): boolean` and
 * `list(prefix?, limit?): string[]`.
 * @public
 */
export type KvFunctions = {
  /** `get(key)`: the value, or `null`. */
  readonly get: HostFunctionDefinition<readonly [CapabilitySchema<string>], JsonValue>;
  /** `set(key, value)`: stores a JSON value. */
  readonly set: HostFunctionDefinition<
    readonly [CapabilitySchema<string>, CapabilitySchema<JsonValue>],
    undefined
  >;
  /** `delete(key)`: whether the key was there. */
  readonly delete: HostFunctionDefinition<readonly [CapabilitySchema<string>], boolean>;
  /** `list(prefix?, limit?)`: sorted keys with that prefix. */
  readonly list: HostFunctionDefinition<
    readonly [CapabilitySchema<string | undefined>, CapabilitySchema<number | undefined>],
    string[]
  >;
};

/** A `Map` seen as a {@link KvStore}. */
function mapStore(map: Map<string, JsonValue>): KvStore {
  return {
    get: (key) => map.get(key),
    set: (key, value) => {
      map.set(key, value);
    },
    delete: (key) => map.delete(key),
    list: (prefix, max) =>
      [...map.keys()]
        .filter((k) => k.startsWith(prefix))
        .sort()
        .slice(0, max),
    has: (key) => map.has(key),
    size: () => map.size,
  };
}

/**
 * A key-value capability: `get`, `set`, `delete` and `list` over a `Map` or your own async
 * {@link KvStore}, with key, value and entry limits (`ERR_HOST_LIMIT` in the guest).
 *
 * @example
 * ```ts
 * const kv = kvModule({ store: new Map(), maxValueBytes: 4096 });
 * // guest: import * as kv from 'host:kv'; kv.set('visits', (kv.get('visits') ?? 0) + 1);
 * ```
 * @throws {@link HostModuleDefinitionError} (`ERR_INVALID_ARG`) for a store that is neither a
 * `Map` nor a {@link KvStore}, a limit that is not a positive integer, or an unknown option.
 * @public
 */
export function kvModule(options: KvModuleOptions = {}): HostModuleDefinition<string, KvFunctions> {
  checkOptions('kvModule()', options);
  checkKeys('kvModule()', options, [
    'store',
    'name',
    'maxKeyBytes',
    'maxValueBytes',
    'maxEntries',
    'maxListKeys',
    'readOnly',
    'timeoutMs',
  ]);
  const maxKeyBytes = limit('kvModule(): maxKeyBytes', options.maxKeyBytes, 512);
  const maxValueBytes = limit('kvModule(): maxValueBytes', options.maxValueBytes, 64 * 1024);
  const maxEntries = limit('kvModule(): maxEntries', options.maxEntries, 10_000);
  const maxListKeys = limit('kvModule(): maxListKeys', options.maxListKeys, 1000);
  const readOnly = options.readOnly ?? false;
  if (typeof readOnly !== 'boolean') {
    throw new HostModuleDefinitionError('kvModule(): readOnly must be a boolean');
  }
  const given = options.store ?? new Map<string, JsonValue>();
  let store: KvStore;
  if (given instanceof Map) store = mapStore(given);
  else if (
    typeof given === 'object' &&
    given !== null &&
    ['get', 'set', 'delete', 'list'].every(
      (m) => typeof (given as unknown as Record<string, unknown>)[m] === 'function',
    )
  ) {
    store = given;
  } else {
    throw new HostModuleDefinitionError(
      'kvModule(): store must be a Map or an object with get, set, delete and list methods',
    );
  }
  const name = options.name ?? 'kv';
  const keySchema = capabilitySchema<string>({ type: 'string', minLength: 1 }, (value) => {
    if (typeof value !== 'string')
      return [{ message: `expected a string key, received ${kind(value)}` }];
    if (value.length === 0) return [{ message: 'the key is empty' }];
    return [];
  });
  const valueSchema = capabilitySchema<JsonValue>({}, (value) =>
    value === undefined ? [{ message: 'expected a JSON value, received undefined' }] : [],
  );
  const limitSchema = capabilitySchema<number | undefined>(
    { type: 'integer', minimum: 1 },
    (value) =>
      value === undefined || (typeof value === 'number' && Number.isInteger(value) && value >= 1)
        ? []
        : [{ message: `expected a positive integer, received ${JSON.stringify(value)}` }],
  );
  const checkKey = (fname: string, key: string) => {
    const bytes = utf8Bytes(key);
    if (bytes > maxKeyBytes) {
      throw new HostCallError(
        'ERR_HOST_LIMIT',
        `host:${name}.${fname}`,
        `the key is ${bytes} bytes, more than ${maxKeyBytes}`,
      );
    }
  };
  const denyWrites = (fname: string) => {
    if (readOnly)
      throw new HostCallError('ERR_HOST_DENIED', `host:${name}.${fname}`, 'the store is read-only');
  };
  return defineHostModule(
    name,
    {
      get: hostFunction({
        args: [keySchema],
        params: ['key'],
        description: 'The value stored under key, or null.',
        handler: async (key) => {
          checkKey('get', key);
          return (await store.get(key)) ?? null;
        },
      }),
      set: hostFunction({
        args: [keySchema, valueSchema],
        params: ['key', 'value'],
        description: `Stores a JSON value (at most ${maxValueBytes} bytes) under key.`,
        handler: async (key, value) => {
          denyWrites('set');
          checkKey('set', key);
          const bytes = utf8Bytes(JSON.stringify(value));
          if (bytes > maxValueBytes) {
            throw new HostCallError(
              'ERR_HOST_LIMIT',
              `host:${name}.set`,
              `the value is ${bytes} bytes, more than ${maxValueBytes}`,
            );
          }
          if (store.size) {
            const exists = store.has ? await store.has(key) : (await store.get(key)) !== undefined;
            if (!exists && (await store.size()) >= maxEntries) {
              throw new HostCallError(
                'ERR_HOST_LIMIT',
                `host:${name}.set`,
                `the store holds ${maxEntries} entries already`,
              );
            }
          }
          await store.set(key, value);
          return undefined;
        },
      }),
      delete: hostFunction({
        args: [keySchema],
        params: ['key'],
        description: 'Removes key; whether it was there.',
        handler: async (key) => {
          denyWrites('delete');
          checkKey('delete', key);
          return Boolean(await store.delete(key));
        },
      }),
      list: hostFunction({
        args: [optionalStringSchema, limitSchema],
        params: ['prefix', 'limit'],
        description: `The keys starting with prefix, sorted (at most ${maxListKeys}).`,
        handler: async (prefix, max) => [
          ...(await store.list(prefix ?? '', Math.min(max ?? maxListKeys, maxListKeys))),
        ],
      }),
    },
    { timeoutMs: limit('kvModule(): timeoutMs', options.timeoutMs, 5000, 2_147_483_647) },
  ) as unknown as HostModuleDefinition<string, KvFunctions>;
}
