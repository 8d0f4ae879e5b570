import path from 'node:path';
import { type BundleDiagnostic, BundleError } from './errors';
import { guestProgram, loadTypeScript } from './typescript';

/** Node.js globals a guest author may reach for; TypeScript's hint (install @types/node) misleads. */
const NODE_GLOBALS = new Set([
  'process',
  'Buffer',
  'module',
  'exports',
  '__dirname',
  '__filename',
  'global',
  'setImmediate',
]);

/** Replaces TypeScript's "install @types/node" hint for Node.js globals with what is true here. */
function explain(message: string): string {
  const name = /^Cannot find name '([^']+)'/.exec(message)?.[1];
  if (name === undefined || !NODE_GLOBALS.has(name)) return message;
  return `Cannot find name '${name}': the guest is not Node.js and has no ${name} (its globals: @hyperlight/bundler/guest-globals)`;
}

/**
 * Options of {@link typecheck}.
 * @public
 */
export interface TypecheckOptions {
  /** The project root: diagnostics' paths are relative to it. */
  readonly root: string;
  /** The files to check (with what they import). */
  readonly files: readonly string[];
  /**
   * A tsconfig whose options and files are used (with `noEmit`); the guest's globals are added
   * unless its `types` names `@hyperlight/bundler/guest-globals`.
   * @defaultValue none: strict, `lib: ["ES2023"]`, no `@types`, the guest's
   * globals and every `.d.ts` under `root`
   */
  readonly tsconfig?: string;
}

/**
 * Type checks guest code against the guest's globals (so `process`, `require`, `setTimeout`
 * before the guest has timers, … are errors) and whatever host-module declarations the project
 * has. Resolves when there is no error.
 * @throws {@link BundleError} `ERR_BUNDLE_TYPECHECK` listing every error
 * (`file:line:column: TS2345: …`), or `ERR_BUNDLE_NO_TYPESCRIPT`.
 * @public
 */
export async function typecheck(options: TypecheckOptions): Promise<void> {
  const ts = await loadTypeScript('type checking');
  const program = guestProgram(ts, options.root, options.files, options.tsconfig);
  const diagnostics: BundleDiagnostic[] = ts.getPreEmitDiagnostics(program).map((d) => {
    const message = `TS${d.code}: ${explain(ts.flattenDiagnosticMessageText(d.messageText, '\n'))}`;
    if (!d.file || d.start === undefined) return { message, file: null, line: null, column: null };
    const pos = d.file.getLineAndCharacterOfPosition(d.start);
    return {
      message,
      file: path.relative(options.root, d.file.fileName),
      line: pos.line + 1,
      column: pos.character + 1,
    };
  });
  if (diagnostics.length > 0) {
    throw new BundleError(
      'ERR_BUNDLE_TYPECHECK',
      `type checking found ${diagnostics.length} error${diagnostics.length === 1 ? '' : 's'}`,
      diagnostics,
    );
  }
}
