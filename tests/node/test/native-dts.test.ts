import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nativeBinding } from '@hyperlight/js-host-api/loader';
import { describe, expect, it } from 'vitest';

const generated = fileURLToPath(new URL('../../../crates/js-host-api/index.d.ts', import.meta.url));

describe('the native binding', () => {
  it('has the generated declarations of the snapshot (napi build writes them; never edit by hand)', async () => {
    expect(
      existsSync(generated),
      `${generated} is missing: build the binding with ./scripts/setup.sh (pnpm run build:native)`,
    ).toBe(true);
    await expect(readFileSync(generated, 'utf8')).toMatchFileSnapshot(
      './__snapshots__/js-host-api.index.d.ts.snap',
    );
  });

  it('exports every class the typed API names', () => {
    const binding = nativeBinding();
    for (const name of [
      'SandboxBuilder',
      'ProtoJSSandbox',
      'HostModule',
      'JSSandbox',
      'LoadedJSSandbox',
      'Snapshot',
      'InterruptHandle',
    ]) {
      expect(typeof binding[name], name).toBe('function');
    }
  });
});
