import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runReadmeExample } from '../../../tooling/readme-example';

it("the repository README's first example runs and prints what it says", () => {
  const run = runReadmeExample(
    fileURLToPath(new URL('../../..', import.meta.url)),
    fileURLToPath(new URL('..', import.meta.url)),
  );
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toEqual(run.expected);
  expect(run.expected).toEqual(["{ message: 'Hello, World!' }"]);
});
