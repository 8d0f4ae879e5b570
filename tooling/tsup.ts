import { defineConfig } from 'tsup';

/**
 * The build every TypeScript package shares: `src/index.ts` to ESM (`dist/index.js`) and
 * CJS (`dist/index.cjs`), each with its own declarations (`.d.ts` / `.d.cts`).
 * A package's `tsup.config.ts` re-exports this in one line.
 */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  platform: 'node',
  target: 'node20',
  // `import.meta.url` also works in the CJS build.
  shims: true,
  splitting: false,
});
