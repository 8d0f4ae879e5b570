// The published packages of the workspace (`packages/*` that are not private), in dependency
// order (a package after every published package it depends on). Shared by the release scripts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The published packages as `{ name, version, dir, manifest }`, dependencies first.
 * Dependencies are `dependencies`, `optionalDependencies` and `peerDependencies` (not dev ones).
 */
export function publishedPackages(root = ROOT) {
  const dirs = readdirSync(path.join(root, 'packages'))
    .map((d) => path.join(root, 'packages', d))
    .filter((d) => existsSync(path.join(d, 'package.json')));
  const all = dirs
    .map((dir) => ({
      dir,
      manifest: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')),
    }))
    .filter((p) => !p.manifest.private)
    .map((p) => ({ ...p, name: p.manifest.name, version: p.manifest.version }));
  const byName = new Map(all.map((p) => [p.name, p]));
  const ordered = [];
  const state = new Map();
  const visit = (p, trail) => {
    if (state.get(p.name) === 'done') return;
    if (state.get(p.name) === 'visiting') {
      throw new Error(
        `dependency cycle between published packages: ${[...trail, p.name].join(' -> ')}`,
      );
    }
    state.set(p.name, 'visiting');
    const m = p.manifest;
    const deps = { ...m.dependencies, ...m.optionalDependencies, ...m.peerDependencies };
    for (const dep of Object.keys(deps).sort()) {
      const q = byName.get(dep);
      if (q) visit(q, [...trail, p.name]);
    }
    state.set(p.name, 'done');
    ordered.push(p);
  };
  for (const p of all.sort((a, b) => a.name.localeCompare(b.name))) visit(p, []);
  return ordered;
}
