import { beforeEach, expect } from 'vitest';

/**
 * Every test must assert something: a test whose body makes no `expect` assertion (directly or
 * through a helper) fails with "expected any number of assertion, but got none". A test that only
 * checks "it did not throw" says so with `expect(…).resolves` / `expect(() => …).not.toThrow()`.
 * Shared by every vitest project through `tooling/vitest.project.ts`.
 */
beforeEach(() => {
  expect.hasAssertions();
});
