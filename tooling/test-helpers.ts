import { expect } from 'vitest';

/** The error `f` throws synchronously; fails the test if it does not throw. */
export function thrown(f: () => unknown): Error & Record<string, unknown> {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

/** The reason `promise` rejects with; fails the test if it resolves. */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}
