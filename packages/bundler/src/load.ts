import type { BundleResult } from './bundle';

/**
 * What {@link addBundle} adds handlers to: a `JSSandbox` of `@hyperlight/js-host-api` (only its
 * `addHandler` is used, so this package needs no native binding).
 * @public
 */
export interface HandlerTarget {
  /** Adds a handler source under a routing key. */
  addHandler(name: string, code: string): void;
}

/**
 * Adds every handler of a bundle to a sandbox (`sandbox.addHandler(name, code)` for each), before
 * `getLoadedSandbox()`. The binding's errors pass through (a routing key already added is
 * `ERR_INVALID_ARG`).
 * @public
 */
export function addBundle(sandbox: HandlerTarget, result: Pick<BundleResult, 'handlers'>): void {
  for (const handler of Object.values(result.handlers))
    sandbox.addHandler(handler.name, handler.code);
}
