import { defineConfig } from 'tsup';
import base from '../../tooling/tsup';

// The shared build, plus the CLI and the guest-side helper (`@hyperlight/bundler/guest`).
export default defineConfig({
  ...(base as object),
  entry: ['src/index.ts', 'src/cli.ts', 'src/guest.ts'],
});
