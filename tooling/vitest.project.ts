import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

/**
 * The vitest project every package shares: tests in `test/` and next to the sources.
 * The project is named after the folder's package.json. A package's `vitest.config.ts`
 * re-exports this in one line; the root `vitest.config.ts` collects them. Every test must make at
 * least one assertion (`vitest.setup.ts`).
 */
export default defineProject({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    setupFiles: [fileURLToPath(new URL('./vitest.setup.ts', import.meta.url))],
  },
});
