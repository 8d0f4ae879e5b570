import {
  decodedMappings,
  originalPositionFor,
  sourceContentFor,
  TraceMap,
} from '@jridgewell/trace-mapping';
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
 * A guest stack frame: `at <name> (handler/<key>:<line>:<column>)` or
 * `at handler/<key>:<line>:<column>` (column 1-based), as QuickJS-ng prints them.
 */
const FRAME = /^(\s*at )(?:(.*?) \()?handler\/(.+?):(\d+):(\d+)(\)?)$/;

/** One handler's map and the last generated line that has mappings (later lines are glue). */
interface Loaded {
  readonly map: TraceMap;
  readonly lastMappedLine: number;
}

/**
 * The original name of a function esbuild renamed to avoid a clash (`handler` → `handler2`):
 * when `name` does not occur in the original source but `name` without its digits does.
 */
function originalName(map: TraceMap, source: string, name: string): string {
  const base = /^(.*\D)\d+$/.exec(name)?.[1];
  if (base === undefined) return name;
  const content = sourceContentFor(map, source);
  if (!content) return name;
  const word = (w: string) =>
    new RegExp(`(^|[^\\w$])${w.replace(/\$/g, '\\$')}($|[^\\w$])`).test(content);
  return !word(name) && word(base) ? base : name;
}

/**
 * Builds a function that rewrites a guest stack (an `ERR_HANDLER` error's `guestStack`) so that
 * each frame in a bundled handler points at the original source file, line and column (through
 * the bundle's source map, with `@jridgewell/trace-mapping`). A function esbuild renamed to
 * avoid a clash (`handler2`) gets its original name back; the frame of the one-line glue the
 * bundler adds is dropped; frames of other modules are left as they are.
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
  const maps = new Map<string, Loaded>();
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
    const traced = new TraceMap(map as ConstructorParameters<typeof TraceMap>[0]);
    const lines = decodedMappings(traced);
    let last = lines.length;
    while (last > 0 && (lines[last - 1]?.length ?? 0) === 0) last--;
    maps.set(key, { map: traced, lastMappedLine: last });
  }
  const prefix = options.sourceRoot ? `${options.sourceRoot.replace(/\/$/, '')}/` : '';
  return (stack: string): string => {
    if (typeof stack !== 'string') return stack;
    const out: string[] = [];
    for (const line of stack.split('\n')) {
      const frame = FRAME.exec(line);
      const loaded = frame ? maps.get(frame[3] as string) : undefined;
      if (!frame || !loaded) {
        out.push(line);
        continue;
      }
      const [, at, name, , l, c, close] = frame;
      const pos = originalPositionFor(loaded.map, { line: Number(l), column: Number(c) - 1 });
      if (pos.source === null || pos.line === null || pos.column === null) {
        // The bundler's glue after the last mapped line: not the user's code.
        if (Number(l) > loaded.lastMappedLine) continue;
        out.push(line);
        continue;
      }
      const where = `${prefix}${pos.source}:${pos.line}:${pos.column + 1}`;
      out.push(
        name === undefined
          ? `${at}${where}`
          : `${at}${originalName(loaded.map, pos.source, name)} (${where}${close ?? ')'}`,
      );
    }
    return out.join('\n');
  };
}
