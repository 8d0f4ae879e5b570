/**
 * The `code` of a {@link BundleError}.
 *
 * - `ERR_INVALID_ARG`: a bad option (unknown key, a handler name or entry that is not a string, a
 *   bad size limit);
 * - `ERR_BUNDLE_BUILD`: esbuild failed: a syntax error, a module that cannot be resolved, a Node.js
 *   built-in the guest does not have (the message names the importer);
 * - `ERR_BUNDLE_NO_HANDLER`: an entry exports neither a default function nor `handler`;
 * - `ERR_BUNDLE_TOO_LARGE`: a handler's module is larger than `maxBytes`;
 * - `ERR_BUNDLE_TYPECHECK`: `typecheck: true` and the TypeScript check found errors;
 * - `ERR_BUNDLE_NO_TYPESCRIPT`: type checking or the handler-map declaration needs the
 *   `typescript` package (version 5), and it is not installed or has no compiler API
 *   (TypeScript 7).
 * @public
 */
export type BundleErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_BUNDLE_BUILD'
  | 'ERR_BUNDLE_NO_HANDLER'
  | 'ERR_BUNDLE_TOO_LARGE'
  | 'ERR_BUNDLE_TYPECHECK'
  | 'ERR_BUNDLE_NO_TYPESCRIPT';

/**
 * One problem found while bundling or type checking, with its place when known (paths relative to
 * the project root, line and column 1-based).
 * @public
 */
export interface BundleDiagnostic {
  /** What is wrong. */
  readonly message: string;
  /** The file, relative to the root, or `null`. */
  readonly file: string | null;
  /** The line (1-based), or `null`. */
  readonly line: number | null;
  /** The column (1-based), or `null`. */
  readonly column: number | null;
}

/**
 * The rejection of {@link bundle}: a `code`, and every problem found (the message lists them as
 * `file:line:column: message`).
 * @public
 */
export class BundleError extends Error {
  /** What went wrong. */
  readonly code: BundleErrorCode;
  /** Every problem found, in order. */
  readonly diagnostics: readonly BundleDiagnostic[];

  /** Builds the error; the message is `summary` followed by one line per diagnostic. */
  constructor(
    code: BundleErrorCode,
    summary: string,
    diagnostics: readonly BundleDiagnostic[] = [],
  ) {
    const lines = diagnostics.map((d) => `\n  ${formatDiagnostic(d)}`);
    super(`${summary}${lines.join('')}`);
    this.name = 'BundleError';
    this.code = code;
    this.diagnostics = diagnostics;
  }
}

/** `file:line:column: message` (the parts that are known). */
export function formatDiagnostic(d: BundleDiagnostic): string {
  if (d.file === null) return d.message;
  const place = [d.file, d.line, d.column].filter((p) => p !== null).join(':');
  return `${place}: ${d.message}`;
}
