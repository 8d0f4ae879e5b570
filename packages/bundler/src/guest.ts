// @hyperlight/bundler/guest: the helper guest code imports; bundled into the guest module.

/**
 * A handler: receives the event (parsed JSON) and returns the result (sent back as JSON), or a
 * Promise of it. `Event` and `Result` are what the bundler's handler-map declaration is typed with.
 * @public
 */
export type Handler<Event, Result> = (event: Event) => Result | Promise<Result>;

/**
 * Marks a handler's types for the bundler: `export default defineHandler<Event, Result>(fn)` in a
 * handler entry. It returns `fn` unchanged (nothing of it remains at run time but the call).
 *
 * @example
 * ```ts
 * import { defineHandler } from '@hyperlight/bundler/guest';
 * export default defineHandler<{ name: string }, { message: string }>((event) => ({
 *   message: `Hello, ${event.name}!`,
 * }));
 * ```
 * @public
 */
export function defineHandler<Event, Result>(fn: Handler<Event, Result>): Handler<Event, Result> {
  return fn;
}
