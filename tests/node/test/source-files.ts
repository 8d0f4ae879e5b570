// Source files of the repository, for the checks that read the tests as text
// (error-code-coverage.test.ts, assertion-coverage.test.ts).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every file under `dir` (recursively) for which `keep(path)` holds, skipping `node_modules`,
 * `dist`, `fixtures` and dot-directories; `[]` when `dir` does not exist.
 */
export function walk(dir: string, keep: (path: string) => boolean, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name === 'fixtures' || name.startsWith('.'))
      continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, keep, out);
    else if (keep(path)) out.push(path);
  }
  return out;
}

/** A TypeScript or JavaScript source (not a declaration file). */
export const isScript = (path: string): boolean =>
  /\.(ts|mts|js|mjs|cjs)$/.test(path) && !path.endsWith('.d.ts');

/** A Rust source. */
export const isRust = (path: string): boolean => path.endsWith('.rs');
