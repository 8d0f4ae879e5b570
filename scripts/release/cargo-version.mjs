#!/usr/bin/env node
// Keeps the Cargo crates on the version of the binding: the workspace version in Cargo.toml
// (`[workspace.package] version`, inherited by every host crate), the `version` of the path
// dependencies in `[workspace.dependencies]`, and the entries of those crates in Cargo.lock all
// equal the version of `@hyperlight/js-host-api` (which changesets bumps; its platform packages
// follow it in one `fixed` group). The guest crate (excluded from the workspace, never published)
// keeps its own version.
//
//   node scripts/release/cargo-version.mjs [ROOT]          write the version (run by `pnpm run version`)
//   node scripts/release/cargo-version.mjs --check [ROOT]  exit 1 when the crates drifted
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './packages.mjs';

const args = process.argv.slice(2);
const check = args.includes('--check');
const root = args.find((a) => a !== '--check') ?? ROOT;

const binding = JSON.parse(
  readFileSync(path.join(root, 'packages/js-host-api/package.json'), 'utf8'),
);
const want = binding.version;

// Host crates inheriting the workspace version.
const crates = readdirSync(path.join(root, 'crates')).filter((d) => {
  const f = path.join(root, 'crates', d, 'Cargo.toml');
  return existsSync(f) && /^version\.workspace\s*=\s*true/m.test(readFileSync(f, 'utf8'));
});
const crateNames = crates.map((d) => {
  const m = /^name\s*=\s*"([^"]+)"/m.exec(
    readFileSync(path.join(root, 'crates', d, 'Cargo.toml'), 'utf8'),
  );
  return m ? m[1] : d;
});

const drift = [];
const tomlPath = path.join(root, 'Cargo.toml');
let toml = readFileSync(tomlPath, 'utf8');
toml = toml.replace(
  /(\[workspace\.package\][^[]*?\nversion\s*=\s*")([^"]+)(")/,
  (_all, a, v, b) => {
    if (v !== want) drift.push(`Cargo.toml [workspace.package] version is ${v}`);
    return a + want + b;
  },
);
toml = toml.replace(
  /^([\w-]+)(\s*=\s*\{\s*path\s*=\s*"crates\/[^"]+",\s*version\s*=\s*")([^"]+)(")/gm,
  (_all, name, a, v, b) => {
    if (v !== want) drift.push(`Cargo.toml [workspace.dependencies] ${name} version is ${v}`);
    return name + a + want + b;
  },
);

const lockPath = path.join(root, 'Cargo.lock');
let lock = existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null;
if (lock !== null) {
  lock = lock.replace(
    /(\[\[package\]\]\nname = "([^"]+)"\nversion = ")([^"]+)("\n)(?!source)/g,
    (all, a, name, v, b) => {
      if (!crateNames.includes(name)) return all;
      if (v !== want) drift.push(`Cargo.lock ${name} is ${v}`);
      return a + want + b;
    },
  );
}

if (check) {
  if (drift.length > 0) {
    console.error(
      `cargo-version: the Cargo crates drifted from @hyperlight/js-host-api ${want}:\n` +
        drift.map((d) => `  - ${d}\n`).join('') +
        'What to do: run `node scripts/release/cargo-version.mjs` (`pnpm run version` runs it after `changeset version`).',
    );
    process.exit(1);
  }
  console.log(`cargo-version: ${crateNames.length} crates at ${want}, as @hyperlight/js-host-api`);
} else {
  writeFileSync(tomlPath, toml);
  if (lock !== null) writeFileSync(lockPath, lock);
  console.log(
    `cargo-version: ${crateNames.join(', ')} set to ${want}${drift.length ? ` (was: ${drift.join('; ')})` : ''}`,
  );
}
