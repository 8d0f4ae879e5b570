import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TS from 'typescript';
import { BundleError } from './errors';

/** The TypeScript module, loaded on first use (it is an optional peer dependency). */
export async function loadTypeScript(
  why: string,
  importer: () => Promise<unknown> = () => import('typescript'),
): Promise<typeof TS> {
  try {
    const mod = (await importer()) as typeof TS & { default?: typeof TS };
    return mod.default ?? mod;
  } catch {
    throw new BundleError(
      'ERR_BUNDLE_NO_TYPESCRIPT',
      `${why} needs the typescript package: install it (npm install --save-dev typescript)`,
    );
  }
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
 * options, `noEmit` forced), else the guest's defaults (strict, `lib` ES2023 + disposable, no
 * `@types`, the `.d.ts` files under `root`). The guest's globals are added unless the tsconfig's
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
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, path.dirname(tsconfig));
    options = { ...parsed.options, noEmit: true };
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
