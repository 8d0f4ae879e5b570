#!/usr/bin/env node
// One repository URL everywhere a release writes it. The value is `repository` of the root
// package.json (docs/releasing.md, "Repository URL"); this checks, and exits 1 naming every
// mismatch, that
//   - Cargo.toml's `[workspace.package] repository` (inherited by every crate) is that URL;
//   - the changelog generator's `repo` option in .changeset/config.json is that URL;
//   - every published package has `repository` = { type: git, url: git+<URL>.git, directory:
//     packages/<dir> }, `homepage` under <URL>/tree/main/packages/<dir>, `bugs.url` <URL>/issues;
//   - every link into a GitHub repository in a published package's README.md is under <URL>.
//
//   node scripts/release/repository-check.mjs [ROOT]
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { publishedPackages, ROOT } from './packages.mjs';

const root = process.argv[2] ?? ROOT;
const problems = [];
const read = (f) => readFileSync(path.join(root, f), 'utf8');

const rootManifest = JSON.parse(read('package.json'));
const declared = rootManifest.repository?.url ?? '';
const match = /^git\+(https:\/\/github\.com\/[^/\s]+\/[^/\s]+?)\.git$/.exec(declared);
if (!match) {
  console.error(
    `repository-check: package.json needs "repository": { "type": "git", "url": "git+https://github.com/<owner>/<name>.git" } (found ${JSON.stringify(declared)})`,
  );
  process.exit(1);
}
const url = match[1];

const cargo = /^\[workspace\.package\][^[]*?^repository\s*=\s*"([^"]*)"/ms.exec(read('Cargo.toml'));
if (cargo?.[1] !== url) {
  problems.push(
    `Cargo.toml [workspace.package] repository is ${cargo?.[1] ?? 'missing'}, not ${url}`,
  );
}

const changelog = JSON.parse(read('.changeset/config.json')).changelog;
const changelogRepo = Array.isArray(changelog) ? changelog[1]?.repo : undefined;
if (changelogRepo !== url) {
  problems.push(
    `.changeset/config.json: the changelog's repo option is ${changelogRepo}, not ${url}`,
  );
}

for (const p of publishedPackages(root)) {
  const dir = path.relative(root, p.dir).split(path.sep).join('/');
  const m = p.manifest;
  const where = `${dir}/package.json`;
  const repo = m.repository ?? {};
  if (repo.type !== 'git' || repo.url !== `git+${url}.git` || repo.directory !== dir) {
    problems.push(
      `${where}: repository is ${JSON.stringify(m.repository)}, not {"type":"git","url":"git+${url}.git","directory":"${dir}"}`,
    );
  }
  if (typeof m.homepage !== 'string' || !m.homepage.startsWith(`${url}/tree/main/${dir}`)) {
    problems.push(`${where}: homepage ${m.homepage} is not under ${url}/tree/main/${dir}`);
  }
  if (m.bugs?.url !== `${url}/issues`) {
    problems.push(`${where}: bugs.url is ${m.bugs?.url}, not ${url}/issues`);
  }
  const readme = path.join(p.dir, 'README.md');
  if (existsSync(readme)) {
    const repoLinks =
      readFileSync(readme, 'utf8').match(/https:\/\/github\.com\/[^/\s)]+\/[^/\s)#]+/g) ?? [];
    for (const link of new Set(repoLinks)) {
      // Links into other projects (their names differ from ours) are fine; a link with our
      // repository's name under another owner is the stale kind this check is for.
      const name = url.split('/').pop();
      if (link !== url && link.endsWith(`/${name}`)) {
        problems.push(`${dir}/README.md links ${link}, not ${url}`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`repository-check: the repository URL is ${url} (package.json), but:`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(`repository-check: ${url} in Cargo.toml, the changelog and every published package`);
