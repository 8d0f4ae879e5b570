import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import type { BundleResult } from './bundle';

/**
 * Source maps by routing key: a {@link BundleResult}, or `{ greet: mapJsonText, … }`.
 * @public
 */
export type StackMapSource =
  | Pick<BundleResult, 'handlers'>
  | Readonly<Record<string, string | object>>;

/**
 * Options of {@link createStackMapper}.
 * @public
 */
export interface StackMapperOptions {
  /**
   * Prefix put before mapped source paths (which are relative to the bundle's root), e.g. the
   * absolute root so that editors can open them.
   * @defaultValue `''`
   */
  readonly sourceRoot?: string;
}

/**
 * A guest stack frame's location: `handler/<key>:<line>:<column>` (column 1-based), as QuickJS-ng
 * prints it for a handler module.
 */
const FRAME = /handler\/([^\s():]+(?::[^\s():]+)*?):(\d+):(\d+)/g;

/**
 * Builds a function that rewrites a guest stack (an `ERR_HANDLER` error's `guestStack`) so that
 * each frame in a bundled handler points at the original source file, line and column (through
 * the bundle's source map, with `@jridgewell/trace-mapping`). Frames that map to nothing (the
 * glue the bundler adds, other modules) are left as they are.
 *
 * It is the `mapStack` option of a `@hyperlight/sandbox` definition, and works on its own with
 * the low-level API: `mapper(error.guestStack)`.
 *
 * @example
 * ```ts
 * const mapStack = createStackMapper(out);
 * try { await loaded.callHandler('greet', {}); }
 * catch (e) { if (isHyperlightError(e, ERR_HANDLER)) console.error(mapStack(e.guestStack)); }
 * // at greet (src/greet.ts:12:11) instead of at greet_default (handler/greet:5302:9)
 * ```
 * @public
 */
export function createStackMapper(
  source: StackMapSource,
  options: StackMapperOptions = {},
): (stack: string) => string {
  const maps = new Map<string, TraceMap>();
  const raw: Record<string, string | object> =
    'handlers' in source && typeof source.handlers === 'object' && source.handlers !== null
      ? Object.fromEntries(
          Object.entries((source as Pick<BundleResult, 'handlers'>).handlers).map(([k, h]) => [
            k,
            h.map,
          ]),
        )
      : (source as Record<string, string | object>);
  for (const [key, map] of Object.entries(raw)) {
    if (typeof map !== 'string' && (typeof map !== 'object' || map === null)) {
      throw new TypeError(
        `createStackMapper(): the source map of ${JSON.stringify(key)} must be JSON text or an object`,
      );
    }
    maps.set(key, new TraceMap(map as ConstructorParameters<typeof TraceMap>[0]));
  }
  const prefix = options.sourceRoot ? `${options.sourceRoot.replace(/\/$/, '')}/` : '';
  return (stack: string): string => {
    if (typeof stack !== 'string') return stack;
    return stack.replace(FRAME, (whole, key: string, line: string, column: string) => {
      const map = maps.get(key);
      if (!map) return whole;
      const pos = originalPositionFor(map, { line: Number(line), column: Number(column) - 1 });
      if (pos.source === null || pos.line === null || pos.column === null) return whole;
      return `${prefix}${pos.source}:${pos.line}:${pos.column + 1}`;
    });
  };
}
