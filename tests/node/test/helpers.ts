import {
  type ErrorCode,
  type LoadedJSSandbox,
  type ProtoJSSandbox,
  SandboxBuilder,
} from '@hyperlight/js-host-api';
import { expect } from 'vitest';
import { rejection, thrown } from '../../../tooling/test-helpers';

export { rejection, thrown } from '../../../tooling/test-helpers';

/** A loaded sandbox with `handlers` (routing key → source), host functions set up by `setup`. */
export async function loadedSandbox(
  handlers: Record<string, string>,
  setup?: (proto: ProtoJSSandbox) => void,
): Promise<LoadedJSSandbox> {
  const proto = await new SandboxBuilder().build();
  setup?.(proto);
  const sandbox = await proto.loadRuntime();
  for (const [name, code] of Object.entries(handlers)) sandbox.addHandler(name, code);
  return sandbox.getLoadedSandbox();
}

/** An echo handler. */
export const ECHO = 'function handler(event) { return event; }';

/** A handler that spins until `event.ms` milliseconds have passed (forever without `ms`). */
export const SPIN = `
  function handler(event) {
    const start = Date.now();
    while (event.ms === undefined || Date.now() - start < event.ms) {}
    return { done: true };
  }
`;

/** Expects `f` to throw synchronously an error with `code`. */
export function expectThrowCode(
  f: () => unknown,
  code: ErrorCode,
): Error & Record<string, unknown> {
  const error = thrown(f);
  expect(error.code, error.message).toBe(code);
  return error;
}

/** Expects `promise` to reject with an error with `code`. */
export async function expectRejectCode(
  promise: Promise<unknown>,
  code: ErrorCode,
): Promise<Error & Record<string, unknown>> {
  const error = await rejection(promise);
  expect(error.code, error.message).toBe(code);
  return error;
}
