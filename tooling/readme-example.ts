import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs the first ```js block of a package's README.md with `node`, as an ES module inside the
 * package (so it imports the package by its own name, as users do), and returns what it printed
 * with what the README says it prints: the `// ...` comment at the end of each `console.log`
 * line, in order. `runIn` runs it from another package instead (one that depends on the packages
 * the example imports), e.g. for the repository's own README.
 */
export function runReadmeExample(
  packageDir: string,
  runIn: string = packageDir,
): {
  status: number | null;
  stdout: string[];
  stderr: string;
  expected: string[];
} {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const block = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error(`${packageDir}/README.md has no \`\`\`js example`);
  const expected = block
    .split('\n')
    .filter((line) => line.includes('console.log('))
    .map((line) => {
      const comment = /\/\/ (.*)$/.exec(line)?.[1];
      if (comment === undefined)
        throw new Error(`README console.log line without "// output": ${line}`);
      return comment;
    });
  const dir = join(runIn, 'temp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'readme-example.mjs');
  writeFileSync(file, block);
  const run = spawnSync(process.execPath, [file], {
    cwd: runIn,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return {
    status: run.status,
    stdout: run.stdout.split('\n').filter((line) => line.length > 0),
    stderr: run.stderr,
    expected,
  };
}
