import {
  type ErrorCode,
  type InterruptHandle,
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

/**
 * Stops the call running in a sandbox through `handle` (`kill()` by default, or
 * `requestInterrupt()`), retrying every `everyMs` until a call was running: a single stop sent
 * before the call has started does nothing, and would leave the handler spinning until the test
 * times out. Starts after `afterMs`. Returns a function that cancels the retries (call it once the
 * call has settled, in case it ended by itself).
 */
export function stopWhenRunning(
  handle: InterruptHandle,
  { afterMs = 0, everyMs = 5, how = 'kill' }: StopOptions = {},
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const attempt = () => {
    const wasRunning = how === 'kill' ? handle.kill() : handle.requestInterrupt();
    timer = wasRunning ? undefined : setTimeout(attempt, everyMs);
  };
  timer = setTimeout(attempt, afterMs);
  return () => clearTimeout(timer);
}

/** Options of {@link stopWhenRunning}. */
export interface StopOptions {
  /** Milliseconds before the first attempt. */
  afterMs?: number;
  /** Milliseconds between attempts. */
  everyMs?: number;
  /** `kill` (poisons) or `interrupt` (the polite `requestInterrupt()`). */
  how?: 'kill' | 'interrupt';
}
