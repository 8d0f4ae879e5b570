import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TS from 'typescript';
import { BundleError } from './errors';

/** The install command named in `ERR_BUNDLE_NO_TYPESCRIPT` messages. */
const INSTALL = 'npm install --save-dev typescript@5';

/**
 * The TypeScript module, loaded on first use (it is an optional peer dependency, `>=5.0 <7`).
 * Throws `ERR_BUNDLE_NO_TYPESCRIPT` when the package is missing, or when the installed one has
 * no compiler API (TypeScript 7's `typescript` package exports only `version`: the compiler
 * moved to a native binary with no JavaScript API yet).
 */
export async function loadTypeScript(
  why: string,
  importer: () => Promise<unknown> = () => import('typescript'),
): Promise<typeof TS> {
  let mod: (Partial<typeof TS> & { default?: Partial<typeof TS> }) | undefined;
  try {
    mod = (await importer()) as typeof mod;
  } catch {
    throw new BundleError(
      'ERR_BUNDLE_NO_TYPESCRIPT',
      `${why} needs the typescript package: install it (${INSTALL})`,
    );
  }
  const ts = hasCompilerApi(mod?.default) ? mod?.default : mod;
  if (!hasCompilerApi(ts)) {
    const found = [mod?.default?.version, mod?.version].find((v) => typeof v === 'string');
    const version = found ?? 'unknown';
    throw new BundleError(
      'ERR_BUNDLE_NO_TYPESCRIPT',
      `${why} needs the TypeScript compiler API, which the installed typescript ${version} does not have (TypeScript 7 ships none yet): install TypeScript 5 (${INSTALL})`,
    );
  }
  return ts;
}

/** Whether `ts` looks like the TypeScript compiler API (5.x/6.x), not TypeScript 7's stub. */
export function hasCompilerApi(ts: unknown): ts is typeof TS {
  if (ts === null || (typeof ts !== 'object' && typeof ts !== 'function')) return false;
  const t = ts as Partial<typeof TS>;
  return (
    typeof t.createProgram === 'function' &&
    typeof t.ScriptTarget === 'object' &&
    typeof t.sys === 'object'
  );
}

/**
 * The declaration file of the guest's globals shipped with this package
 * (`@hyperlight/bundler/guest-globals`).
 * @public
 */
export const GUEST_GLOBALS_DTS: string = fileURLToPath(
  new URL('../guest-globals.d.ts', import.meta.url),
);

/** `.d.ts` files under `root` (not in `node_modules` or hidden folders). */
function declarationFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.d.ts')) out.push(full);
    }
  };
  walk(root);
  return out;
}

/**
 * A TypeScript program over `files`: with the project's tsconfig when given (its files and
 * options, `noEmit` forced, `skipLibCheck` true unless set), else the guest's defaults (strict,
 * `lib` ES2023 + disposable, no `@types`, the `.d.ts` files under `root`). The guest's globals are added unless the tsconfig's
 * `types` already names them.
 */
export function guestProgram(
  ts: typeof TS,
  root: string,
  files: readonly string[],
  tsconfig: string | undefined,
): TS.Program {
  let options: TS.CompilerOptions;
  let rootNames: string[];
  if (tsconfig !== undefined) {
    const read = ts.readConfigFile(tsconfig, ts.sys.readFile);
    if (read.error) {
      throw new BundleError(
        'ERR_BUNDLE_TYPECHECK',
        `cannot read ${path.relative(root, tsconfig)}: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`,
      );
    }
    // The file name sets `configFilePath`: `types` then resolve from the tsconfig's folder,
    // not from the process's working directory.
    const parsed = ts.parseJsonConfigFileContent(
      read.config,
      ts.sys,
      path.dirname(tsconfig),
      undefined,
      tsconfig,
    );
    // `.d.ts` files of host-side packages (e.g. `@hyperlight/host-modules`) name host globals the
    // guest lacks (`AbortSignal`, `fetch`): skip checking them unless the tsconfig decides.
    options = { skipLibCheck: true, ...parsed.options, noEmit: true };
    rootNames = [...parsed.fileNames, ...files];
    if (!(options.types ?? []).some((t) => t.includes('guest-globals')))
      rootNames.push(GUEST_GLOBALS_DTS);
  } else {
    options = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2023.d.ts'], // the guest's globals file references the rest
      types: [],
      skipLibCheck: true,
      esModuleInterop: true,
      resolveJsonModule: true,
      isolatedModules: true,
      allowImportingTsExtensions: true,
    };
    rootNames = [...files, ...declarationFiles(root), GUEST_GLOBALS_DTS];
  }
  return ts.createProgram({ rootNames: [...new Set(rootNames)], options });
}

/** Whether `file` exists (for tests and the CLI). */
export function fileExists(file: string): boolean {
  return existsSync(file);
}
