import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import { HostModuleDefinitionError } from '../errors';

/**
 * A Standard Schema that also has a Standard JSON Schema: the type of the capability modules' own
 * argument schemas (they need no schema library at run time).
 * @public
 */
export type CapabilitySchema<T> = StandardSchemaV1<T> & StandardJSONSchemaV1<T>;

/** An issue found by a check: a message and the path inside the value. */
export interface Problem {
  readonly message: string;
  readonly path?: readonly PropertyKey[];
}

/**
 * A small Standard Schema: `check` returns the problems of a value (none when it is valid).
 * The capability modules use it so that they need no schema library at run time.
 */
export function capabilitySchema<T>(
  jsonSchema: Record<string, unknown>,
  check: (value: unknown) => readonly Problem[],
): CapabilitySchema<T> {
  return {
    '~standard': {
      version: 1,
      vendor: '@hyperlight/host-modules',
      validate(value: unknown): StandardSchemaV1.Result<T> {
        const problems = check(value);
        if (problems.length === 0) return { value: value as T };
        return { issues: problems.map((p) => ({ message: p.message, path: p.path ?? [] })) };
      },
      jsonSchema: { input: () => jsonSchema, output: () => jsonSchema },
    },
  };
}

/** `typeof`-style name of a value for messages. */
export function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A string schema (optionally with a maximum UTF-8 length checked elsewhere). */
export const stringSchema = capabilitySchema<string>({ type: 'string' }, (value) =>
  typeof value === 'string' ? [] : [{ message: `expected a string, received ${kind(value)}` }],
);

/** An optional string. */
export const optionalStringSchema = capabilitySchema<string | undefined>(
  { type: 'string' },
  (value) =>
    value === undefined || typeof value === 'string'
      ? []
      : [{ message: `expected a string or nothing, received ${kind(value)}` }],
);

/** A plain object of string values (headers). */
export function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

/** Checks an optional positive-integer limit; returns it or the default. */
export function limit(
  what: string,
  value: unknown,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new HostModuleDefinitionError(
      `${what} must be an integer from 1 to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

/** Refuses option keys outside `known`. */
export function checkKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new HostModuleDefinitionError(
        `${what}: unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`,
      );
    }
  }
}

/** Checks that `options` is an object. */
export function checkOptions(what: string, options: unknown): asserts options is object {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HostModuleDefinitionError(`${what} takes an options object`);
  }
}

/** UTF-8 length of a string. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
