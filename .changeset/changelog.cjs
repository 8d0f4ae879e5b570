// The changelog lines `changeset version` writes into each package's CHANGELOG.md: the changeset's
// summary, after a link to the commit that added the changeset, on the repository named by the
// `repo` option in .changeset/config.json (for example
// `- [abc1234](https://github.com/hyperlight-js/hyperlight-js/commit/abc1234…): summary`).
//
// Why not @changesets/changelog-github: it asks GitHub's API which pull request and author each
// commit belongs to, so `changeset version` fails without a GITHUB_TOKEN, and the release dry run
// (`pnpm release:dry-run`, run by CI on machines that reach no GitHub) could not run it. Changesets
// finds each changeset's commit in the local git history by itself, so a commit link needs no
// network. When the commit is unknown (no git history, as in the dry run's temporary copy) the line
// has no link. See docs/releasing.md.
'use strict';

/** @param {unknown} options */
function repoUrl(options) {
  const repo = options && typeof options === 'object' ? options.repo : undefined;
  if (typeof repo !== 'string' || !/^https:\/\/\S+[^/]$/.test(repo)) {
    throw new Error(
      '.changeset/changelog.cjs needs the repository URL as an option in .changeset/config.json: ' +
        '"changelog": ["./changelog.cjs", { "repo": "https://github.com/<owner>/<name>" }]',
    );
  }
  return repo;
}

/** `[abc1234](<repo>/commit/<sha>)`, or nothing when changesets found no commit. */
function commitLink(commit, options) {
  if (!commit) return '';
  return `[${commit.slice(0, 7)}](${repoUrl(options)}/commit/${commit})`;
}

async function getReleaseLine(changeset, _type, options) {
  const [first, ...rest] = changeset.summary.split('\n').map((l) => l.trimEnd());
  const link = commitLink(changeset.commit, options);
  let line = `- ${link ? `${link}: ` : ''}${first}`;
  if (rest.length > 0) line += `\n${rest.map((l) => `  ${l}`).join('\n')}`;
  return line;
}

async function getDependencyReleaseLine(changesets, dependenciesUpdated, options) {
  if (dependenciesUpdated.length === 0) return '';
  const links = changesets.map((c) => commitLink(c.commit, options)).filter(Boolean);
  const head = `- Updated dependencies${links.length > 0 ? ` ${links.join(', ')}` : ''}`;
  const list = dependenciesUpdated.map((d) => `  - ${d.name}@${d.newVersion}`);
  return [head, ...list].join('\n');
}

module.exports = { default: { getReleaseLine, getDependencyReleaseLine } };
