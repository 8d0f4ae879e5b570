import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { fixture } from './helpers';

// One-way dependencies: the bundler needs no native code to bundle.

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

it('depends on no @hyperlight package at run time', () => {
  const runtime = { ...packageJson.dependencies, ...packageJson.peerDependencies };
  expect(Object.keys(runtime).filter((name) => name.startsWith('@hyperlight/'))).toEqual([]);
});

it('bundles in a process where the native binding cannot load', () => {
  const dist = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
  const script = `
    const { bundle } = await import(${JSON.stringify(dist)});
    const out = await bundle({ root: ${JSON.stringify(fixture('cli'))}, handlers: { sum: 'src/handlers/sum.ts' } });
    console.log(out.handlers.sum.bytes > 0);
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
    // Any attempt to load the binding would fail: the path names no file.
    env: { ...process.env, HYPERLIGHT_JS_NATIVE_PATH: '/nonexistent/binding.node' },
  });
  expect(run.stderr).toBe('');
  expect(run.stdout).toBe('true\n');
}, 60_000);
