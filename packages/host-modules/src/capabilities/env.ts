import {
  defineHostModule,
  type HostFunctionDefinition,
  type HostModuleDefinition,
  hostFunction,
} from '../define';
import { HostModuleDefinitionError } from '../errors';
import type { CapabilitySchema } from './schema';
import { capabilitySchema, checkKeys, checkOptions, kind } from './schema';

/**
 * A configuration value the guest may read.
 * @public
 */
export type EnvValue = string | number | boolean | null;

/**
 * Options of {@link envModule}.
 * @public
 */
export interface EnvModuleOptions<V extends Readonly<Record<string, EnvValue>>> {
  /** The values, by name (copied and frozen: later changes to the object are not seen). */
  readonly values: V;
  /**
   * The module name (the guest imports `host:<name>`).
   * @defaultValue `'env'`
   */
  readonly name?: string;
}

/**
 * The functions of {@link envModule} as the guest sees them: `get(name)` returns the value, or
 * `null` for a name that is not set; `keys()` lists the names.
 * @public
 */
export type EnvFunctions<V extends Readonly<Record<string, EnvValue>>> = {
  /** `get(name)`: the value, `null` when not set. */
  readonly get: HostFunctionDefinition<
    readonly [CapabilitySchema<keyof V & string>],
    V[keyof V] | null
  >;
  /** `keys()`: every name, sorted. */
  readonly keys: HostFunctionDefinition<readonly [], (keyof V & string)[]>;
};

/**
 * A read-only configuration module: the guest reads the values you give (never the host's
 * `process.env`, unless you pass some of it on purpose).
 *
 * @example
 * ```ts
 * const env = envModule({ values: { REGION: 'eu-west-1', DEBUG: false } });
 * // guest: import { get } from 'host:env'; get('REGION') === 'eu-west-1'
 * ```
 * @throws {@link HostModuleDefinitionError} (`ERR_INVALID_ARG`) when `values` is not an object of
 * strings, finite numbers, booleans and `null`, or for an unknown option.
 * @public
 */
export function envModule<const V extends Readonly<Record<string, EnvValue>>>(
  options: EnvModuleOptions<V>,
): HostModuleDefinition<string, EnvFunctions<V>> {
  checkOptions('envModule()', options);
  checkKeys('envModule()', options, ['values', 'name']);
  const { values } = options;
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new HostModuleDefinitionError('envModule(): values must be an object of values by name');
  }
  const copy: Record<string, EnvValue> = Object.create(null);
  for (const [key, value] of Object.entries(values)) {
    const ok =
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      throw new HostModuleDefinitionError(
        `envModule(): the value of ${JSON.stringify(key)} must be a string, a finite number, a boolean or null, got ${kind(value)}`,
      );
    }
    copy[key] = value;
  }
  Object.freeze(copy);
  const names = Object.keys(copy).sort();
  const nameSchema = capabilitySchema<keyof V & string>({ type: 'string' }, (value) =>
    typeof value === 'string' ? [] : [{ message: `expected a string, received ${kind(value)}` }],
  );
  return defineHostModule(options.name ?? 'env', {
    get: hostFunction({
      args: [nameSchema],
      params: ['name'],
      description: 'The value of a configuration entry, or null when it is not set.',
      handler: (name) => (Object.hasOwn(copy, name) ? (copy[name] as V[keyof V]) : null),
    }),
    keys: hostFunction({
      args: [],
      description: 'The names of every configuration entry, sorted.',
      handler: () => [...names] as (keyof V & string)[],
    }),
  }) as unknown as HostModuleDefinition<string, EnvFunctions<V>>;
}
