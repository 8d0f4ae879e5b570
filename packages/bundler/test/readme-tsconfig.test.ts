import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { bundle } from '../src/index';
import { bundleError } from './helpers';

// A user's guest project put together from the READMEs' snippets, verbatim: the bundler's
// guest tsconfig.json and host-modules' `declare module 'host:db'` pattern must type check.
const pkg = fileURLToPath(new URL('..', import.meta.url));
const readme = (file: string) => readFileSync(file, 'utf8');
const block = (text: string, after: string, lang: string) => {
  const start = text.indexOf(`\`\`\`${lang}\n`, text.indexOf(after));
  expect(start, `a ${lang} block after "${after}"`).toBeGreaterThan(-1);
  return text.slice(start + lang.length + 4, text.indexOf('```', start + 3));
};
mkdirSync(path.join(pkg, 'temp'), { recursive: true });
const root = mkdtempSync(path.join(pkg, 'temp', 'readme-tsconfig-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('the README guest tsconfig and the host-modules typing pattern type check', async () => {
  const tsconfig = block(
    readme(path.join(pkg, 'README.md')),
    "The guest's `tsconfig.json`",
    'json',
  );
  const declaration = block(
    readme(path.join(pkg, '..', 'host-modules', 'README.md')),
    "## The guest's types",
    'ts',
  );
  expect(JSON.parse(tsconfig).compilerOptions.module).toBe('ESNext');
  expect(declaration).toContain("declare module 'host:db'");
  writeFileSync(path.join(root, 'tsconfig.json'), tsconfig);
  // As installed: `types` names `@hyperlight/bundler/guest-globals` through node_modules (the
  // other packages resolve from this package's own node_modules, above `root`).
  mkdirSync(path.join(root, 'node_modules', '@hyperlight'), { recursive: true });
  symlinkSync(pkg, path.join(root, 'node_modules', '@hyperlight', 'bundler'), 'dir');
  mkdirSync(path.join(root, 'host'));
  mkdirSync(path.join(root, 'src'));
  writeFileSync(
    path.join(root, 'host', 'db.ts'),
    `import { defineHostModule, hostFunction } from '@hyperlight/host-modules';
import * as v from 'valibot';
export const db = defineHostModule('db', {
  get: hostFunction({ args: [v.string()], handler: async (id) => ({ id, name: 'Ada' }) }),
});
`,
  );
  writeFileSync(path.join(root, 'src', 'host-modules.d.ts'), declaration);
  writeFileSync(
    path.join(root, 'src', 'greet.ts'),
    `import { get } from 'host:db';
export default (event: { id: string }) => ({ name: get(event.id).name });
`,
  );
  const out = await bundle({ root, handlers: { greet: 'src/greet.ts' }, typecheck: true });
  expect(out.declaration).toContain('greet(event: { id: string }): { name: string };');

  // The check is real: a wrong argument type in the guest is still an error.
  writeFileSync(
    path.join(root, 'src', 'greet.ts'),
    `import { get } from 'host:db';
export default () => get(7);
`,
  );
  const error = await bundleError(
    bundle({ root, handlers: { greet: 'src/greet.ts' }, typecheck: true }),
  );
  expect(error.code).toBe('ERR_BUNDLE_TYPECHECK');
  expect(error.message).toContain('TS2345');
}, 120_000);
