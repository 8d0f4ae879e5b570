import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runReadmeExample } from '../../../tooling/readme-example';

it('the README example runs and prints what it says', { timeout: 120_000 }, () => {
  const run = runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toEqual(run.expected);
});
