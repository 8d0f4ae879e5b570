// Finds the cases: every export `cases` of `cases/*.mjs`, an object mapping
// a case name to `{ timeoutMs?, run(t) }` or to a bare `run` function.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'cases');

/** Default per-case timeout: generous for a busy 2-core machine. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export function normalise(def) {
  return typeof def === 'function' ? { run: def } : def;
}

export async function loadCases() {
  const out = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.mjs'))
    .sort()) {
    const mod = await import(pathToFileURL(join(dir, file)).href);
    for (const [name, def] of Object.entries(mod.cases ?? {})) {
      const d = normalise(def);
      out.push({
        file,
        name,
        id: `${file.replace(/\.mjs$/, '')}/${name}`,
        timeoutMs: d.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      });
    }
  }
  return out;
}

export async function loadCase(file, name) {
  const mod = await import(pathToFileURL(join(dir, file)).href);
  const def = mod.cases?.[name];
  if (!def) throw new Error(`no case ${name} in ${file}`);
  return normalise(def);
}
