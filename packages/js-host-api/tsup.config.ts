import { defineConfig, type Options } from 'tsup';
import base from '../../tooling/tsup';

// The shared build, with a second entry point: `@hyperlight/js-host-api/loader`.
export default defineConfig({
  ...(base as Options),
  entry: { index: 'src/index.ts', loader: 'src/loader-entry.ts' },
});
