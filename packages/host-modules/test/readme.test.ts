import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

it('the README example runs as written (against the built package) and prints its result', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code, 'the README has a ts example').toBeDefined();
  expect((code as string).trim().split('\n').length).toBeLessThanOrEqual(14);
  const js = ts
    .transpileModule(code as string, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    .outputText.replace(
      "'@hyperlight/host-modules'",
      JSON.stringify(pathToFileURL(`${root}dist/index.js`).href),
    );
  const file = `${root}readme-example.tmp.mjs`;
  writeFileSync(file, js);
  try {
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe("{ name: 'Ada' }\n");
  } finally {
    rmSync(file, { force: true });
  }
});
