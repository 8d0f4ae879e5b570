#!/usr/bin/env node
// `prepack` guard of every published package: refuses to pack (and so to publish) a package whose
// build outputs are missing, instead of shipping a tarball without `dist/` or without its `.node`.
//
//   node ../../scripts/release/prepack-guard.mjs      (run by npm/pnpm in the package's directory)
//
// It checks every file the manifest points at (`main`, `module`, `types`, `bin`, every target of
// `exports`) and every literal (non-glob) entry of `files`; a missing `.node` file also gets a note
// that it is built by `pnpm run build:native`. It also checks that a `.node` file is an ELF shared
// object. Exits 1 with one line per missing file and what to run; 0 when everything is there.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

const dir = process.cwd();
const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));

/** Every relative file path a manifest field names (strings found anywhere in `exports`). */
function targets(value, out = []) {
  if (typeof value === 'string') out.push(value);
  else if (value && typeof value === 'object')
    for (const v of Object.values(value)) targets(v, out);
  return out;
}

const wanted = new Set();
for (const field of ['main', 'module', 'types', 'typings']) {
  if (typeof manifest[field] === 'string') wanted.add(manifest[field]);
}
for (const t of targets(manifest.bin)) wanted.add(t);
for (const t of targets(manifest.exports)) if (!t.includes('*')) wanted.add(t);
for (const f of manifest.files ?? []) if (!/[*?{!]/.test(f)) wanted.add(f);

const problems = [];
for (const rel of wanted) {
  const file = path.join(dir, rel);
  if (!existsSync(file)) {
    problems.push(`${rel} is missing`);
    continue;
  }
  if (rel.endsWith('.node')) {
    const size = statSync(file).size;
    const magic = Buffer.alloc(4);
    const fd = openSync(file, 'r');
    readSync(fd, magic, 0, 4, 0);
    closeSync(fd);
    if (size === 0 || !magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
      problems.push(`${rel} is not an ELF shared object (${size} bytes)`);
    }
  }
}

if (problems.length > 0) {
  const native = problems.some((p) => p.includes('.node'));
  const fix = native
    ? '`pnpm run build:native` at the repository root builds the native binding into this package'
    : '`pnpm run build` at the repository root (or `pnpm --filter ' +
      `${manifest.name} run build\`) builds it`;
  console.error(
    `prepack: refusing to pack ${manifest.name}@${manifest.version}: its build outputs are missing.\n` +
      problems.map((p) => `  - ${p}\n`).join('') +
      `What to do: ${fix} (./scripts/setup.sh builds everything), then pack again.`,
  );
  process.exit(1);
}
