import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNativeBinding, NATIVE_PATH_ENV } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';

const examplesDir = fileURLToPath(new URL('..', import.meta.url));
const failingBinding = fileURLToPath(new URL('./fixtures/failing-binding.cjs', import.meta.url));

/** Runs an example the way the README does, with `node`, from the examples folder. */
function runExample(file: string, extraEnv: Record<string, string> = {}) {
  const env = { ...process.env, ...extraEnv };
  if (!(NATIVE_PATH_ENV in extraEnv)) delete env[NATIVE_PATH_ENV];
  return spawnSync(process.execPath, [file], {
    cwd: examplesDir,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** Whether this checkout has a native binding, asked of the loader itself. */
function bindingLoads(): boolean {
  try {
    loadNativeBinding({ env: {} });
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_NO_NATIVE_BINDING') return false;
    throw error;
  }
}

describe('examples/simple.js', () => {
  it('calls the greet handler in a micro-VM, or says the engine is not there yet', () => {
    const run = runExample('simple.js');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    if (bindingLoads()) {
      expect(run.stdout).toContain("message: 'Hello, World!'");
      expect(run.stdout).not.toContain('not there yet');
    } else {
      expect(run.stdout).toContain('The hyperlight-js engine is not there yet');
      expect(run.stdout).toContain('native binding for linux-x64-gnu');
    }
  });

  it('fails on any error other than a missing binding', () => {
    const run = runExample('simple.js', { [NATIVE_PATH_ENV]: failingBinding });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('build failed on purpose');
    expect(run.stdout).not.toContain('not there yet');
  });
});
