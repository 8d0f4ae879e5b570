import { fileURLToPath } from 'node:url';
import { type LoadedJSSandbox, type ProtoJSSandbox, SandboxBuilder } from '@hyperlight/js-host-api';
import { expect } from 'vitest';
import { addBundle, type BundleError, type BundleResult } from '../src/index';

/** A fixture project's folder. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** A loaded sandbox running the bundle's handlers (host modules set up by `setup`). */
export async function loadBundle(
  out: BundleResult,
  setup?: (proto: ProtoJSSandbox) => void,
  modules: Record<string, [string, string?]> = {},
): Promise<LoadedJSSandbox> {
  const proto = await new SandboxBuilder().build();
  setup?.(proto);
  const sandbox = await proto.loadRuntime();
  for (const [name, [source, namespace]] of Object.entries(modules))
    sandbox.addModule(name, source, namespace);
  addBundle(sandbox, out);
  return sandbox.getLoadedSandbox();
}

/** The BundleError `promise` rejects with (fails the test if it resolves or rejects otherwise). */
export async function bundleError(promise: Promise<unknown>): Promise<BundleError> {
  try {
    await promise;
  } catch (error) {
    expect((error as Error).name).toBe('BundleError');
    return error as BundleError;
  }
  throw new Error('expected a rejection');
}
