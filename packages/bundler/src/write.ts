import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BundleResult } from './bundle';

/**
 * What {@link writeBundle} wrote: the files, relative to the output folder.
 * @public
 */
export interface WrittenBundle {
  /** `<key>.js` and `<key>.js.map` per handler, `handlers.d.ts`, `manifest.json`. */
  readonly files: readonly string[];
}

/**
 * Writes a bundle to a folder: per handler `<key>.js` (the guest module, with a
 * `sourceMappingURL` comment) and `<key>.js.map`; `handlers.d.ts` (the handler-map declaration,
 * when generated); `manifest.json` (`{ handlers: { <key>: { module, map, entry, bytes } } }`, for
 * loaders). Creates the folder. Routing keys that are not safe file names are written with `_`
 * for each other character (the manifest keeps the real key).
 * @public
 */
export function writeBundle(result: BundleResult, outDir: string): WrittenBundle {
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const manifest: Record<string, { module: string; map: string; entry: string; bytes: number }> =
    {};
  for (const handler of Object.values(result.handlers)) {
    const base = handler.name.replace(/[^\w.-]/g, '_');
    const module = `${base}.js`;
    const map = `${base}.js.map`;
    writeFileSync(path.join(outDir, module), `${handler.code}//# sourceMappingURL=${map}\n`);
    writeFileSync(path.join(outDir, map), handler.map);
    files.push(module, map);
    manifest[handler.name] = { module, map, entry: handler.entry, bytes: handler.bytes };
  }
  if (result.declaration !== null) {
    writeFileSync(path.join(outDir, 'handlers.d.ts'), result.declaration);
    files.push('handlers.d.ts');
  }
  writeFileSync(
    path.join(outDir, 'manifest.json'),
    `${JSON.stringify({ handlers: manifest }, null, 2)}\n`,
  );
  files.push('manifest.json');
  return { files };
}
