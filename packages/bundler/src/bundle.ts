import { existsSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { handlerMapDeclaration } from './declarations';
import { type BundleDiagnostic, BundleError } from './errors';
import { typecheck as runTypecheck } from './typecheck';

/**
 * The ECMAScript level of the guest's engine (QuickJS-ng): esbuild lowers newer syntax to it.
 * @public
 */
export const GUEST_TARGET = 'es2023';

/**
 * The guest's built-in modules: imports of them stay imports (external), everything else from
 * npm is bundled in.
 * @public
 */
export const GUEST_BUILTIN_MODULES: readonly string[] = Object.freeze([
  'crypto',
  'node:crypto',
  'util',
  'node:util',
  'console',
  'node:console',
  'io',
  'require',
  'vm',
  'node:vm',
]);

/**
 * Options of {@link bundle}.
 * @public
 */
export interface BundleOptions {
  /**
   * The handlers: routing key → entry file (relative to `root`, or absolute). An entry exports
   * its handler as `default` (e.g. `export default defineHandler<E, R>(…)`) or as `handler`.
   */
  readonly handlers: Readonly<Record<string, string>>;
  /**
   * The project root: entries, `node_modules` and `tsconfig.json` are looked up from here, and
   * source-map paths are relative to it.
   * @defaultValue `process.cwd()`
   */
  readonly root?: string;
  /**
   * Whether to minify (whitespace, syntax and local names).
   * @defaultValue false
   */
  readonly minify?: boolean;
  /**
   * More import specifiers left as imports, with `*` wildcards (e.g. `'mylib:*'` for modules you
   * add with `addModule(…, 'mylib')`). `host:*`, `user:*` and the guest's built-in modules
   * ({@link GUEST_BUILTIN_MODULES}) always are.
   * @defaultValue `[]`
   */
  readonly external?: readonly string[];
  /**
   * Replacements of global expressions (esbuild's `define`), values as JavaScript source.
   * @defaultValue `{ 'process.env.NODE_ENV': '"production"' }` (npm libraries read it; the
   * guest has no `process`)
   */
  readonly define?: Readonly<Record<string, string>>;
  /**
   * Largest module per handler, in bytes; a larger one is `ERR_BUNDLE_TOO_LARGE`. Keep it under
   * the sandbox's input buffer size (1 MiB by default), which bounds each handler source.
   * @defaultValue no limit
   */
  readonly maxBytes?: number;
  /**
   * Whether to type check the handlers (and what they import) before bundling, against the
   * guest's globals: `ERR_BUNDLE_TYPECHECK` lists the errors. Uses `root/tsconfig.json` when
   * there is one (see {@link TypecheckOptions}). Needs the `typescript` package.
   * @defaultValue false
   */
  readonly typecheck?: boolean;
  /**
   * Whether to generate the handler-map declaration ({@link BundleResult.declaration}). Needs the
   * `typescript` package; when it is not installed, `declaration` is `null` unless this is `true`
   * (then `ERR_BUNDLE_NO_TYPESCRIPT`).
   * @defaultValue `'auto'`
   */
  readonly declaration?: boolean | 'auto';
  /**
   * The name of the generated handler-map interface.
   * @defaultValue `'Handlers'`
   */
  readonly interfaceName?: string;
  /**
   * The tsconfig used by type checking and esbuild (relative to `root`).
   * @defaultValue `tsconfig.json` in `root` when it exists
   */
  readonly tsconfig?: string;
}

/**
 * One input of a handler's module and its share of the output.
 * @public
 */
export interface BundleInput {
  /** The input file, relative to the root (npm packages under `node_modules/…`). */
  readonly path: string;
  /** Bytes of the output that come from it. */
  readonly bytes: number;
}

/**
 * One bundled handler.
 * @public
 */
export interface BundledHandler {
  /** The routing key. */
  readonly name: string;
  /** The entry file, relative to the root. */
  readonly entry: string;
  /** The guest module: pass it to `JSSandbox.addHandler(name, code)`. */
  readonly code: string;
  /** Its source map (JSON text, sources relative to the root, with their content). */
  readonly map: string;
  /** Size of `code` in UTF-8 bytes. */
  readonly bytes: number;
  /** Size of `code` gzipped, in bytes (for comparison; the guest receives `code` as is). */
  readonly gzipBytes: number;
  /** The inputs, largest first. */
  readonly inputs: readonly BundleInput[];
}

/**
 * What {@link bundle} returns.
 * @public
 */
export interface BundleResult {
  /** The handlers by routing key. */
  readonly handlers: Readonly<Record<string, BundledHandler>>;
  /** Routing key → guest module source, the shape `addHandler` (and a sandbox definition) takes. */
  readonly sources: Readonly<Record<string, string>>;
  /**
   * The handler-map declaration: a standalone `export interface Handlers { greet(event: E): R; … }`
   * (types inlined, as they cross JSON), for `@hyperlight/sandbox`'s typed `call()`; `null` when
   * not generated.
   */
  readonly declaration: string | null;
  /** A size table: each handler's bytes, gzipped bytes and largest inputs. */
  readonly sizeReport: string;
  /** esbuild's warnings, formatted `file:line:column: message`. */
  readonly warnings: readonly string[];
}

const KNOWN_OPTIONS = [
  'handlers',
  'root',
  'minify',
  'external',
  'define',
  'maxBytes',
  'typecheck',
  'declaration',
  'interfaceName',
  'tsconfig',
];

/** The name the guest binds: `handler` must be a function in module scope. */
const HANDLER_BINDING = 'handler';
const ENTRY_NAMESPACE = 'hyperlight-entry';

function invalid(message: string): BundleError {
  return new BundleError('ERR_INVALID_ARG', message);
}

/** Checks the options; returns them normalised. */
function normalise(options: BundleOptions) {
  if (typeof options !== 'object' || options === null)
    throw invalid('bundle() takes an options object');
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) {
      throw invalid(
        `bundle(): unknown option ${JSON.stringify(key)} (known: ${KNOWN_OPTIONS.join(', ')})`,
      );
    }
  }
  const root = path.resolve(options.root ?? process.cwd());
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw invalid(`bundle(): root is not a folder: ${root}`);
  const handlers = options.handlers;
  if (typeof handlers !== 'object' || handlers === null || Object.keys(handlers).length === 0) {
    throw invalid('bundle(): handlers must map at least one routing key to an entry file');
  }
  const entries: [string, string][] = [];
  for (const [name, entry] of Object.entries(handlers)) {
    if (name.length === 0 || name.length > 256 || [...name].some((c) => c.charCodeAt(0) < 0x20)) {
      throw invalid(
        `bundle(): the routing key ${JSON.stringify(name)} must be 1-256 characters without control characters`,
      );
    }
    if (typeof entry !== 'string' || entry.length === 0) {
      throw invalid(`bundle(): handlers[${JSON.stringify(name)}] must be a file path`);
    }
    const file = path.resolve(root, entry);
    if (!existsSync(file))
      throw invalid(
        `bundle(): the entry of ${JSON.stringify(name)} does not exist: ${path.relative(root, file)}`,
      );
    entries.push([name, file]);
  }
  if (
    options.maxBytes !== undefined &&
    (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1)
  ) {
    throw invalid(`bundle(): maxBytes must be a positive integer, got ${String(options.maxBytes)}`);
  }
  const external = options.external ?? [];
  if (!Array.isArray(external) || external.some((e) => typeof e !== 'string' || e.length === 0)) {
    throw invalid('bundle(): external must be an array of import specifiers');
  }
  const define = options.define ?? { 'process.env.NODE_ENV': '"production"' };
  if (
    typeof define !== 'object' ||
    define === null ||
    Object.values(define).some((v) => typeof v !== 'string')
  ) {
    throw invalid('bundle(): define must be an object of JavaScript source strings');
  }
  for (const flag of ['minify', 'typecheck'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
      throw invalid(`bundle(): ${flag} must be a boolean`);
    }
  }
  const declaration = options.declaration ?? 'auto';
  if (declaration !== 'auto' && typeof declaration !== 'boolean') {
    throw invalid("bundle(): declaration must be true, false or 'auto'");
  }
  const interfaceName = options.interfaceName ?? 'Handlers';
  if (typeof interfaceName !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(interfaceName)) {
    throw invalid('bundle(): interfaceName must be an identifier');
  }
  let tsconfig: string | undefined;
  if (options.tsconfig !== undefined) {
    tsconfig = path.resolve(root, options.tsconfig);
    if (!existsSync(tsconfig)) throw invalid(`bundle(): tsconfig not found: ${options.tsconfig}`);
  } else if (existsSync(path.join(root, 'tsconfig.json'))) {
    tsconfig = path.join(root, 'tsconfig.json');
  }
  return {
    root,
    entries,
    external,
    define,
    minify: options.minify ?? false,
    maxBytes: options.maxBytes,
    typecheck: options.typecheck ?? false,
    declaration,
    interfaceName,
    tsconfig,
  };
}

/** `x*y` → a RegExp for whole specifiers. */
function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*');
  return new RegExp(`^${escaped}$`);
}

const NODE_BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')));

/** The esbuild plugin that decides what stays an import and refuses Node built-ins. */
function guestModulesPlugin(root: string, external: readonly string[]): esbuild.Plugin {
  const patterns = ['host:*', 'user:*', ...external].map(wildcard);
  return {
    name: 'hyperlight-guest-modules',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.namespace === ENTRY_NAMESPACE && args.kind === 'entry-point') return undefined;
        const spec = args.path;
        if (GUEST_BUILTIN_MODULES.includes(spec) || patterns.some((p) => p.test(spec))) {
          return { path: spec, external: true };
        }
        const bare = spec.startsWith('node:') ? spec.slice(5) : spec;
        if (
          NODE_BUILTINS.has(bare) ||
          NODE_BUILTINS.has(bare.split('/')[0] ?? '') ||
          spec.startsWith('node:')
        ) {
          const importer = args.importer ? path.relative(root, args.importer) : '(entry)';
          return {
            errors: [
              {
                text: `${importer} imports "${spec}", a Node.js built-in module the guest does not have (the guest's built-in modules: ${GUEST_BUILTIN_MODULES.join(', ')}; host capabilities come from host:<name> modules)`,
              },
            ],
          };
        }
        return undefined;
      });
    },
  };
}

function diagnostic(root: string, message: esbuild.Message): BundleDiagnostic {
  const loc = message.location;
  return {
    message: message.text,
    file: loc ? path.relative(root, path.resolve(root, loc.file)) : null,
    line: loc ? loc.line : null,
    column: loc ? loc.column + 1 : null,
  };
}

/** The trailing `export { a as b, … };` esbuild writes for the entry's exports. */
const EXPORT_CLAUSE = /export\s*\{([^}]*)\};?\s*$/;

/**
 * Bundles TypeScript (or JavaScript) handlers and their npm dependencies into guest modules with
 * esbuild: ESM at the guest's language level ({@link GUEST_TARGET}), `host:*`, `user:*` and the
 * guest's built-in modules left as imports, everything else bundled in, one module per handler
 * with its source map. Optionally type checks first, and generates the handler-map declaration.
 *
 * The module binds the entry's default export (or its `handler` export) to a module-scope
 * function `handler`, the name the guest calls; a dependency's own `handler` is renamed.
 *
 * @example
 * ```ts
 * const out = await bundle({ root: 'guest', handlers: { greet: 'src/greet.ts' }, typecheck: true });
 * sandbox.addHandler('greet', out.handlers.greet.code);
 * ```
 * @returns the modules, maps, the declaration and a size report.
 * @throws {@link BundleError} (a rejection): `ERR_INVALID_ARG`, `ERR_BUNDLE_BUILD` (incl. a Node
 * built-in the guest lacks, naming the importer), `ERR_BUNDLE_NO_HANDLER`,
 * `ERR_BUNDLE_TOO_LARGE`, `ERR_BUNDLE_TYPECHECK`, `ERR_BUNDLE_NO_TYPESCRIPT`.
 * @public
 */
export async function bundle(options: BundleOptions): Promise<BundleResult> {
  const o = normalise(options);
  if (o.typecheck) {
    await runTypecheck({
      root: o.root,
      files: o.entries.map(([, file]) => file),
      ...(o.tsconfig === undefined ? {} : { tsconfig: o.tsconfig }),
    });
  }
  const handlers: Record<string, BundledHandler> = {};
  const warnings: string[] = [];
  for (const [name, file] of o.entries) {
    handlers[name] = await bundleOne(name, file, o, warnings);
  }
  let declaration: string | null = null;
  if (o.declaration !== false) {
    try {
      declaration = await handlerMapDeclaration({
        root: o.root,
        handlers: Object.fromEntries(o.entries),
        interfaceName: o.interfaceName,
        ...(o.tsconfig === undefined ? {} : { tsconfig: o.tsconfig }),
      });
    } catch (error) {
      if (
        !(
          error instanceof BundleError &&
          error.code === 'ERR_BUNDLE_NO_TYPESCRIPT' &&
          o.declaration === 'auto'
        )
      ) {
        throw error;
      }
    }
  }
  return {
    handlers,
    sources: Object.fromEntries(Object.values(handlers).map((h) => [h.name, h.code])),
    declaration,
    sizeReport: sizeReport(Object.values(handlers), o.maxBytes),
    warnings,
  };
}

async function bundleOne(
  name: string,
  file: string,
  o: ReturnType<typeof normalise>,
  warnings: string[],
): Promise<BundledHandler> {
  const entryPath = `${name}.entry.js`;
  // The entry: the user's handler as `default`, and an unbound reference to `handler`, which
  // makes esbuild keep that name free (it renames a dependency's own `handler` instead).
  const wrapper = [
    `import * as __hyperlight_module__ from ${JSON.stringify(file)};`,
    'const __hyperlight_entry__ = __hyperlight_module__.default ?? __hyperlight_module__.handler;',
    'export { __hyperlight_entry__ as default };',
    `export function __hyperlight_handler_binding__() { return ${HANDLER_BINDING}; }`,
  ].join('\n');
  let result: esbuild.BuildResult & {
    outputFiles: esbuild.OutputFile[];
    metafile: esbuild.Metafile;
  };
  try {
    result = await esbuild.build({
      stdin: { contents: wrapper, resolveDir: o.root, sourcefile: entryPath, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['import', 'module', 'default'],
      target: GUEST_TARGET,
      outfile: path.join(o.root, `${name.replace(/[^\w.-]/g, '_')}.js`),
      write: false,
      sourcemap: 'external',
      sourcesContent: true,
      metafile: true,
      minify: o.minify,
      legalComments: 'none',
      define: o.define,
      absWorkingDir: o.root,
      logLevel: 'silent',
      ...(o.tsconfig === undefined ? {} : { tsconfig: o.tsconfig }),
      plugins: [guestModulesPlugin(o.root, o.external)],
    });
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw error;
    throw new BundleError(
      'ERR_BUNDLE_BUILD',
      `bundle(): the handler ${JSON.stringify(name)} (${path.relative(o.root, file)}) did not build`,
      failure.errors.map((m) => diagnostic(o.root, m)),
    );
  }
  const missing = result.warnings.filter(
    (w) => w.id === 'import-is-undefined' && w.location?.file === entryPath,
  );
  if (missing.length >= 2) {
    throw new BundleError(
      'ERR_BUNDLE_NO_HANDLER',
      `bundle(): ${path.relative(o.root, file)} (handler ${JSON.stringify(name)}) exports neither a default function nor a function named handler`,
    );
  }
  for (const w of result.warnings) {
    if (w.location?.file === entryPath) continue;
    const d = diagnostic(o.root, w);
    warnings.push(d.file ? `${d.file}:${d.line}:${d.column}: ${d.message}` : d.message);
  }
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles.find((f) => f.path.endsWith('.js.map'));
  if (!js || !map) throw new Error('esbuild returned no module or no source map');
  const clause = EXPORT_CLAUSE.exec(js.text);
  const local = clause?.[1]
    ?.split(',')
    .map((item) => item.trim().split(/\s+as\s+/))
    .find((parts) => parts[1] === 'default')?.[0];
  if (!clause || !local) throw new Error('esbuild output has no export of the handler');
  const code = `${js.text.slice(0, clause.index)}function ${HANDLER_BINDING}(event) {\n  return ${local}(event);\n}\n`;
  const bytes = Buffer.byteLength(code);
  if (o.maxBytes !== undefined && bytes > o.maxBytes) {
    throw new BundleError(
      'ERR_BUNDLE_TOO_LARGE',
      `bundle(): the handler ${JSON.stringify(name)} is ${bytes} bytes, more than maxBytes (${o.maxBytes})\n${sizeReport([handlerSummary(name, file, code, map.text, result.metafile, o.root)], o.maxBytes)}`,
    );
  }
  return handlerSummary(name, file, code, map.text, result.metafile, o.root);
}

function handlerSummary(
  name: string,
  file: string,
  code: string,
  map: string,
  metafile: esbuild.Metafile,
  root: string,
): BundledHandler {
  const output =
    Object.values(metafile.outputs).find((out) => out.entryPoint !== undefined) ??
    Object.values(metafile.outputs)[0];
  const inputs = Object.entries(output?.inputs ?? {})
    .filter(([input]) => !input.endsWith('.entry.js'))
    .map(([input, info]) => ({
      path: path.relative(root, path.resolve(root, input)),
      bytes: info.bytesInOutput,
    }))
    .sort((a, b) => b.bytes - a.bytes);
  return {
    name,
    entry: path.relative(root, file),
    code,
    map,
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code).length,
    inputs,
  };
}

function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** The size table of {@link BundleResult.sizeReport}. */
function sizeReport(handlers: readonly BundledHandler[], maxBytes: number | undefined): string {
  const lines = [`handler${' '.repeat(17)}size        gzip        largest inputs`];
  for (const h of handlers) {
    const top = h.inputs
      .slice(0, 3)
      .map(
        (i) =>
          `${i.path.replace(/^.*node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, '')} ${kib(i.bytes)}`,
      )
      .join(', ');
    const over =
      maxBytes !== undefined && h.bytes > maxBytes ? ` (over the limit of ${kib(maxBytes)})` : '';
    lines.push(
      `${h.name.padEnd(24)}${kib(h.bytes).padEnd(12)}${kib(h.gzipBytes).padEnd(12)}${top}${over}`,
    );
  }
  return lines.join('\n');
}
