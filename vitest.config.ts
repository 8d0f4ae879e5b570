import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One project per package (its one-line vitest.config.ts), plus the runnable examples.
    projects: [
      'packages/*/vitest.config.ts',
      'examples/vitest.config.ts',
      'tests/node/vitest.config.ts',
    ],
    // Fails the whole run, before any test file, on a machine that cannot run micro-VMs.
    globalSetup: ['./tooling/kvm-preflight.global-setup.ts'],
  },
});
