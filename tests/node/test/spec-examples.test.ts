// @ts-nocheck -- the spec's snippets are JavaScript (e.g. `error.code` on a catch binding, which
// strict TypeScript types as `unknown`); the typed API is checked by the other tests and the API
// report (packages/js-host-api/etc).
// biome-ignore-all lint/correctness/noUnusedVariables: the verbatim snippets declare values they do not use (`const result = ...` in a try block).
// biome-ignore-all lint/correctness/noUnusedFunctionParameters: a verbatim snippet's host function ignores its argument.

// Every code example of the API spec (/work/shared/spec/js-host-api.md) runs here as written, in
// the order of the spec, against real micro-VMs. The lines between `// ---- spec ----` and
// `// ---- end of spec ----` are copied verbatim (statements, comments, quotes and indentation
// relative to the test body; `biome-ignore format` keeps them as they are). Around them is only
// what the snippet presupposes: the import, and the sandboxes (`proto`, `protoSandbox`, `sandbox`,
// `loaded`, a handler named 'handler') it uses without defining; then the test checks that the
// snippet did what its comments say. A line ending in `// (test)` inside a verbatim part is the
// test's own: it does what the snippet's comment only describes (e.g. "handler gets killed"), or
// observes a value the snippet's comment states. `console.log` is captured, to compare the logged
// values with the spec's comments.
//
// Not run:
// - Installation (`npm install @hyperlight/js-host-api`), "Building from Source" and "Using Just":
//   shell commands for a package manager and build tools, not API examples (this repository builds
//   the package with ./scripts/setup.sh; there is no justfile).
// - The sequence diagram (mermaid), the `type BoxFunction = ...` Rust line (a type of the
//   hyperlight-host crate, not of this API) and the architecture ASCII diagram: not code to run.
//
// The LoadedJSSandbox block is a list of independent examples, one per comment: it unloads
// `loaded` and then uses it again, and its second timeout example would meet the sandbox poisoned
// by the first. Each of its examples is therefore a test of its own, with its own `loaded`.

import { createRequire } from 'node:module';
import {
  ERR_CANCELLED,
  ERR_CONSUMED,
  ERR_INVALID_ARG,
  HostModule,
  InterruptHandle,
  JSSandbox,
  type LoadedJSSandbox,
  ProtoJSSandbox,
  SandboxBuilder,
} from '@hyperlight/js-host-api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { expectRejectCode, stopWhenRunning } from './helpers';

/** The arguments of every `console.log` of the running test. */
let logged: unknown[][] = [];

beforeEach(() => {
  logged = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    logged.push(args);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * The `handler` the LoadedJSSandbox snippets call: it returns an event that has `data`
 * (`{ data: "value" }`), and spins forever on any other (`{}`), so that their timeouts and kills
 * really end a running call.
 */
const HANDLER = `
  function handler(event) {
    if (event.data !== undefined) return event;
    for (;;) {}
  }
`;

/** A loaded sandbox whose handler 'handler' is `code`. */
async function loadedWith(code: string = HANDLER): Promise<LoadedJSSandbox> {
  const proto = await new SandboxBuilder().build();
  const sandbox = await proto.loadRuntime();
  sandbox.addHandler('handler', code);
  return sandbox.getLoadedSandbox();
}

/** Poisons `loaded` with a wall-clock timeout of a spinning call. */
async function poison(loaded: LoadedJSSandbox): Promise<void> {
  await expectRejectCode(
    loaded.callHandler('handler', {}, { wallClockTimeoutMs: 50 }),
    ERR_CANCELLED,
  );
  expect(loaded.poisoned).toBe(true);
}

describe('Quick Start', () => {
  // biome-ignore format: verbatim spec snippet
  it('greets the world', async () => {
    // ---- spec ----
    // Create and build a sandbox
    const builder = new SandboxBuilder();
    const protoSandbox = await builder.build();

    // Load the JavaScript runtime
    const jsSandbox = await protoSandbox.loadRuntime();

    // Add a handler function (sync — no await needed)
    // First arg is a routing key; the function must be named 'handler'
    jsSandbox.addHandler('greet', `
      function handler(event) {
        event.message = 'Hello, ' + event.name + '!';
        return event;
      }
    `);

    // Get the loaded sandbox
    const loadedSandbox = await jsSandbox.getLoadedSandbox();

    // Call the handler using the routing key
    const result = await loadedSandbox.callHandler('greet', { name: 'World' });
    console.log(result); // { name: 'World', message: 'Hello, World!' }
    // ---- end of spec ----

    expect(logged).toEqual([[{ name: 'World', message: 'Hello, World!' }]]);
    await loadedSandbox[Symbol.asyncDispose]();
  });
});

describe('API', () => {
  // biome-ignore format: verbatim spec snippet
  it('SandboxBuilder', async () => {
    // ---- spec ----
    const builder = new SandboxBuilder()
        .setHeapSize(8 * 1024 * 1024)
        .setScratchSize(1024 * 1024);
    const protoSandbox = await builder.build();
    // ---- end of spec ----

    expect(protoSandbox).toBeInstanceOf(ProtoJSSandbox);
    await protoSandbox[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('ProtoJSSandbox', async () => {
    const protoSandbox = await new SandboxBuilder().build();

    // ---- spec ----
    // Register host functions, then load the runtime
    const math = protoSandbox.hostModule('math');
    math.register('add', (a, b) => a + b);

    const jsSandbox = await protoSandbox.loadRuntime();
    // ---- end of spec ----

    expect(jsSandbox).toBeInstanceOf(JSSandbox);
    jsSandbox.addHandler('handler', `
      import * as math from "host:math";
      function handler(event) { return math.add(event.a, event.b); }
    `);
    const loaded = await jsSandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', { a: 1, b: 2 })).toBe(3);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('JSSandbox (registry edits after getLoadedSandbox() only edit the host-side registry)', async () => {
    const proto = await new SandboxBuilder().build();
    const sandbox = await proto.loadRuntime();
    const removeHandler = vi.spyOn(sandbox, 'removeHandler');

    // ---- spec ----
    // Add a module (sync)
    sandbox.addModule('math', `
        export function add(a, b) { return a + b; }
    `);

    // Add a handler that imports the module (sync)
    sandbox.addHandler('handler', `
        import { add } from 'user:math';
        function handler(event) {
            event.result = add(event.a, event.b);
            return event;
        }
    `);

    // With custom namespace
    sandbox.addModule('utils', 'export function greet() { return "hi"; }', 'mylib');
    // Handler imports: import { greet } from 'mylib:utils';

    // Get loaded sandbox (async)
    const loaded = await sandbox.getLoadedSandbox();

    // Clear all handlers (sync)
    sandbox.clearHandlers();

    // Remove specific handler by routing key (sync)
    sandbox.removeHandler('myHandler');
    // ---- end of spec ----

    // 'myHandler' was never added: removeHandler() said so by returning false.
    expect(removeHandler.mock.results).toEqual([{ type: 'return', value: false }]);
    // The edits after getLoadedSandbox() did not reach the loaded sandbox.
    expect(await loaded.callHandler('handler', { a: 2, b: 3 })).toEqual({ a: 2, b: 3, result: 5 });
    await expectRejectCode(sandbox.getLoadedSandbox(), ERR_CONSUMED);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('LoadedJSSandbox', () => {
  // biome-ignore format: verbatim spec snippet
  it('calls a handler with event data', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Call a handler with event data — pass objects directly, get objects back
    const result = await loaded.callHandler('handler', { data: "value" });
    // ---- end of spec ----

    expect(result).toEqual({ data: 'value' });
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('ends a spinning handler with a wall-clock timeout', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Call with wall-clock timeout only
    try {
        const result = await loaded.callHandler('handler', {}, {
            wallClockTimeoutMs: 1000,
        });
    } catch (error) {
        if (error.code === 'ERR_CANCELLED') {
            console.log('Handler exceeded 1s wall-clock timeout');
        } else {
            throw error; // unexpected — don't swallow it
        }
    }
    // ---- end of spec ----

    expect(logged).toEqual([['Handler exceeded 1s wall-clock timeout']]);
    expect(loaded.lastCallStats.terminatedBy).toBe('wall-clock');
    expect(loaded.lastCallStats.wallClockMs).toBeGreaterThanOrEqual(1000);
    expect(loaded.poisoned).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('ends a spinning handler with a CPU-time timeout', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Call with CPU time timeout only (better for pure computation)
    try {
        const result = await loaded.callHandler('handler', {}, {
            cpuTimeoutMs: 500,
        });
    } catch (error) {
        if (error.code === 'ERR_CANCELLED') {
            console.log('Handler exceeded 500ms CPU time');
        } else {
            throw error;
        }
    }
    // ---- end of spec ----

    expect(logged).toEqual([['Handler exceeded 500ms CPU time']]);
    expect(loaded.lastCallStats.terminatedBy).toBe('cpu-time');
    expect(loaded.lastCallStats.cpuTimeMs).toBeGreaterThanOrEqual(500);
    expect(loaded.poisoned).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('ends a spinning handler with both monitors (the CPU one fires first)', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Recommended: Both monitors (OR semantics — first to fire terminates)
    try {
        const result = await loaded.callHandler('handler', {}, {
            wallClockTimeoutMs: 5000,
            cpuTimeoutMs: 500,
        });
    } catch (error) {
        if (error.code === 'ERR_CANCELLED') {
            console.log('Handler exceeded a resource limit');
        } else {
            throw error;
        }
    }
    // ---- end of spec ----

    expect(logged).toEqual([['Handler exceeded a resource limit']]);
    expect(loaded.lastCallStats.terminatedBy).toBe('cpu-time');
    expect(loaded.poisoned).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('unloads', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Unload all handlers to reset state
    const sandbox = await loaded.unload();
    // ---- end of spec ----

    expect(sandbox).toBeInstanceOf(JSSandbox);
    await expectRejectCode(sandbox.getLoadedSandbox(), ERR_INVALID_ARG); // no handlers left
    await expectRejectCode(loaded.callHandler('handler', { data: 1 }), ERR_CONSUMED);
    await sandbox[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('has an interrupt handle', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Get interrupt handle (property getter, not a method call)
    const handle = loaded.interruptHandle;
    // ---- end of spec ----

    expect(handle).toBeInstanceOf(InterruptHandle);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('snapshots and restores', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Snapshot and restore
    const snapshot = await loaded.snapshot();
    // ... do something that poisons the sandbox ...
    await poison(loaded); // (test)
    await loaded.restore(snapshot);
    // ---- end of spec ----

    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('handler', { data: 1 })).toEqual({ data: 1 });
    await loaded[Symbol.asyncDispose]();
  });
});

describe('CallStats', () => {
  // biome-ignore format: verbatim spec snippet
  it('logs the statistics of the last call', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    await loaded.callHandler('handler', { data: 'value' });

    const stats = loaded.lastCallStats;
    if (stats) {
        console.log(`Wall clock: ${stats.wallClockMs.toFixed(1)}ms`);
        if (stats.cpuTimeMs != null) {
            console.log(`CPU time: ${stats.cpuTimeMs.toFixed(1)}ms`);
        }
        if (stats.terminatedBy) {
            console.log(`Terminated by: ${stats.terminatedBy}`);
        }
    }
    // ---- end of spec ----

    // This build measures CPU time; the call ended normally, so no "Terminated by".
    expect(logged).toEqual([
      [expect.stringMatching(/^Wall clock: \d+\.\dms$/)],
      [expect.stringMatching(/^CPU time: \d+\.\dms$/)],
    ]);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('InterruptHandle', () => {
  // biome-ignore format: verbatim spec snippet
  it('kills a handler still running after 2 s from a timer', { timeout: 15_000 }, async () => {
    const loaded = await loadedWith(); // 'handler' spins forever on {}

    const snippet = async () => {
      // ---- spec ----
      // Get interrupt handle 
      const handle = loaded.interruptHandle;

      // Kill from a timer 
      const timer = setTimeout(() => handle.kill(), 2000);
      const result = await loaded.callHandler('handler', {});
      clearTimeout(timer);
      // ---- end of spec ----
    };

    // The snippet has no catch: the killed call's ERR_CANCELLED is what its await throws.
    const error = await expectRejectCode(snippet(), ERR_CANCELLED);
    expect(error.terminatedBy).toBeNull(); // a kill, not a monitor
    expect(loaded.poisoned).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('does not kill a handler that returns before the timer fires', { timeout: 15_000 }, async () => {
    const loaded = await loadedWith('function handler(event) { return event; }');

    // ---- spec ----
    // Get interrupt handle 
    const handle = loaded.interruptHandle;

    // Kill from a timer 
    const timer = setTimeout(() => handle.kill(), 2000);
    const result = await loaded.callHandler('handler', {});
    clearTimeout(timer);
    // ---- end of spec ----

    expect(result).toEqual({});
    expect(loaded.poisoned).toBe(false);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('combined monitors, the recommended pattern', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    // Combined monitors — the recommended pattern 🛡️
    try {
        const result = await loaded.callHandler('handler', {}, {
            wallClockTimeoutMs: 5000,
            cpuTimeoutMs: 500,
        });
    } catch (error) {
        console.log('Handler killed by monitor');
    }
    // ---- end of spec ----

    expect(logged).toEqual([['Handler killed by monitor']]);
    expect(loaded.lastCallStats.terminatedBy).toBe('cpu-time');
    await loaded[Symbol.asyncDispose]();
  });
});

describe('Snapshot', () => {
  // biome-ignore format: verbatim spec snippet
  it('restore() clears the poisoning of a killed handler', async () => {
    const loaded = await loadedWith();

    // ---- spec ----
    const snapshot = await loaded.snapshot();

    // ... handler gets killed, sandbox is poisoned ...
    const stop = stopWhenRunning(loaded.interruptHandle, { afterMs: 50 }); // (test)
    await expectRejectCode(loaded.callHandler('handler', {}), ERR_CANCELLED); // (test)
    stop(); // (test)
    expect(loaded.poisoned).toBe(true); // (test)

    await loaded.restore(snapshot);
    console.log(loaded.poisoned); // false — back to normal
    // ---- end of spec ----

    expect(logged).toEqual([[false]]);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('Error Codes', () => {
  /** The spec's snippet, run against `loaded` in three situations. */
  // biome-ignore format: verbatim spec snippet
  async function errorCodesSnippet(loaded) {
    // ---- spec ----
    try {
        await loaded.callHandler('handler', {});
    } catch (error) {
        switch (error.code) {
            case 'ERR_CANCELLED':
                console.log('Execution was cancelled');
                break;
            case 'ERR_POISONED':
                console.log('Sandbox is poisoned (e.g. stack overflow, timeout)');
                break;
            default:
                console.log(`Unexpected error [${error.code}]: ${error.message}`);
        }
    }
    // ---- end of spec ----
  }

  it('ERR_CANCELLED: the running handler is killed', async () => {
    const loaded = await loadedWith();
    const stop = stopWhenRunning(loaded.interruptHandle, { afterMs: 50 });
    await errorCodesSnippet(loaded);
    stop();
    expect(logged).toEqual([['Execution was cancelled']]);
    await loaded[Symbol.asyncDispose]();
  });

  it('ERR_POISONED: the sandbox was poisoned by an earlier timeout', async () => {
    const loaded = await loadedWith();
    await poison(loaded);
    await errorCodesSnippet(loaded);
    expect(logged).toEqual([['Sandbox is poisoned (e.g. stack overflow, timeout)']]);
    await loaded[Symbol.asyncDispose]();
  });

  it('another code: the handler throws (ERR_HANDLER)', async () => {
    const loaded = await loadedWith('function handler() { throw new Error("boom"); }');
    await errorCodesSnippet(loaded);
    expect(logged).toEqual([[expect.stringMatching(/^Unexpected error \[ERR_HANDLER\]: .*boom/)]]);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('Host Functions', () => {
  // biome-ignore format: verbatim spec snippet
  it('Quick Start (CommonJS)', async () => {
    const require = createRequire(import.meta.url);

    // ---- spec ----
    const { SandboxBuilder } = require('@hyperlight/js-host-api');

    const proto = await new SandboxBuilder().build();

    // Register a sync host function — args are spread, return auto-stringified
    proto.hostModule('math').register('add', (a, b) => a + b);

    // Load the runtime (applies all registrations)
    const sandbox = await proto.loadRuntime();

    // Guest code can now call math.add()
    sandbox.addHandler('handler', `
        import * as math from "host:math";
        function handler(event) {
            return { result: math.add(event.a, event.b) };
        }
    `);

    const loaded = await sandbox.getLoadedSandbox();
    const result = await loaded.callHandler('handler', { a: 10, b: 32 });
    console.log(result); // { result: 42 }
    // ---- end of spec ----

    expect(logged).toEqual([[{ result: 42 }]]);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('The JSON Wire Protocol', async () => {
    const proto = await new SandboxBuilder().build();
    const math = proto.hostModule('math');
    const db = proto.hostModule('db');

    // ---- spec ----
    // Guest calls: math.add(1, 2)
    // Your callback receives: (1, 2) — individual args, already parsed
    // Your return value: 3 — automatically stringified to '3'
    math.register('add', (a, b) => a + b);

    // Guest calls: db.query("users")
    // Your callback receives: ("users") — the single string arg
    // Your return value is automatically stringified
    db.register('query', (table) => ({
        rows: [{ id: 1, name: 'Alice' }],
    }));
    // ---- end of spec ----

    const sandbox = await proto.loadRuntime();
    sandbox.addHandler('handler', `
      import * as math from "host:math";
      import * as db from "host:db";
      function handler() { return { sum: math.add(1, 2), users: db.query("users") }; }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', {})).toEqual({
      sum: 3,
      users: { rows: [{ id: 1, name: 'Alice' }] },
    });
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('proto.hostModule(name)', async () => {
    const proto = await new SandboxBuilder().build();

    // ---- spec ----
    const math = proto.hostModule('math');
    // Guest: import * as math from "host:math";
    // ---- end of spec ----

    expect(math).toBeInstanceOf(HostModule);
    expect(math.name).toBe('math');
    math.register('pi', () => 3.14);
    const sandbox = await proto.loadRuntime();
    sandbox.addHandler('handler', `
      import * as math from "host:math";
      function handler() { return math.pi(); }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', {})).toBe(3.14);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('builder.register(name, callback)', async () => {
    const proto = await new SandboxBuilder().build();

    // ---- spec ----
    const math = proto.hostModule('math');
    math.register('add', (a, b) => a + b);
    math.register('multiply', (a, b) => a * b);
    // ---- end of spec ----

    const sandbox = await proto.loadRuntime();
    sandbox.addHandler('handler', `
      import * as math from "host:math";
      function handler(e) { return [math.add(e.a, e.b), math.multiply(e.a, e.b)]; }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', { a: 6, b: 7 })).toEqual([13, 42]);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('proto.register(moduleName, functionName, callback)', async () => {
    const proto = await new SandboxBuilder().build();

    // ---- spec ----
    proto.register('strings', 'upper', (s) => s.toUpperCase());
    // ---- end of spec ----

    const sandbox = await proto.loadRuntime();
    sandbox.addHandler('handler', `
      import * as strings from "host:strings";
      function handler(e) { return strings.upper(e.s); }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', { s: 'hello' })).toBe('HELLO');
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('Async Callbacks (registered, not called: tests do not use the network)', async () => {
    const proto = await new SandboxBuilder().build();

    // ---- spec ----
    proto.hostModule('api').register('fetchUser', async (userId) => {
        const response = await fetch(`https://api.example.com/users/${userId}`);
        return await response.json();
    });
    // ---- end of spec ----

    // api.example.com cannot be reached from the tests, so fetchUser is never called: the test
    // checks that the registration is applied and visible to the guest. (Async host functions are
    // called for real in host-functions.test.ts.)
    const sandbox = await proto.loadRuntime();
    sandbox.addHandler('handler', `
      import * as api from "host:api";
      function handler() { return typeof api.fetchUser; }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', {})).toBe('function');
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('Error Handling (host callback and guest code)', async () => {
    const proto = await new SandboxBuilder().build();

    // ---- spec ----
    proto.hostModule('auth').register('validate', (token) => {
        if (!token) {
            throw new Error('Token is required');
        }
        return { valid: true };
    });
    // ---- end of spec ----

    const sandbox = await proto.loadRuntime();
    // The spec's guest code, verbatim:
    sandbox.addHandler('handler', `
// Guest code
import * as auth from "host:auth";
function handler(event) {
    try {
        return auth.validate(event.token);
    } catch (e) {
        return { error: e.message };
    }
}
`);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', { token: 'abc' })).toEqual({ valid: true });
    expect(await loaded.callHandler('handler', {})).toEqual({ error: 'Token is required' });
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('Registration Timing', async () => {
    // ---- spec ----
    const proto = await new SandboxBuilder().build();

    // ✅ Register before loadRuntime()
    proto.hostModule('math').register('add', (a, b) => a + b);
    proto.hostModule('strings').register('upper', (s) => s.toUpperCase());

    const sandbox = await proto.loadRuntime(); // all registrations applied here
    // ---- end of spec ----

    sandbox.addHandler('handler', `
      import * as math from "host:math";
      import * as strings from "host:strings";
      function handler() { return [math.add(1, 2), strings.upper("a")]; }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', {})).toEqual([3, 'A']);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('Snapshot / Restore: host functions survive, host state is not reset', async () => {
    // ---- spec ----
    // Host-side counter — lives in Node.js, outside the micro-VM
    let callCount = 0;

    const proto = await new SandboxBuilder().build();
    proto.register('stats', 'hit', () => {
        callCount++;
        return callCount;
    });

    const sandbox = await proto.loadRuntime();
    sandbox.addHandler('handler', `
        import * as stats from "host:stats";
        function handler() {
            return { count: stats.hit() };
        }
    `);

    const loaded = await sandbox.getLoadedSandbox();
    const calls = vi.spyOn(loaded, 'callHandler'); // (test)
    const snapshot = await loaded.snapshot();

    await loaded.callHandler('handler', {}); // callCount → 1
    expect(callCount).toBe(1); // (test)
    await loaded.callHandler('handler', {}); // callCount → 2
    expect(callCount).toBe(2); // (test)

    await loaded.restore(snapshot); // guest VM memory reset, callCount still 2
    expect(callCount).toBe(2); // (test)

    await loaded.callHandler('handler', {}); // callCount → 3
    // ---- end of spec ----

    expect(callCount).toBe(3);
    expect(await Promise.all(calls.mock.results.map((r) => r.value))).toEqual([
      { count: 1 },
      { count: 2 },
      { count: 3 },
    ]);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('User Modules', () => {
  // biome-ignore format: verbatim spec snippet
  it('Quick Start', async () => {
    const proto = await new SandboxBuilder().build();

    // ---- spec ----
    const sandbox = await proto.loadRuntime();

    // Register a module — uses the default 'user' namespace
    sandbox.addModule('math', `
        export function add(a, b) { return a + b; }
        export function multiply(a, b) { return a * b; }
    `);

    // Handler imports the module using 'user:<name>'
    sandbox.addHandler('handler', `
        import { add, multiply } from 'user:math';
        function handler(event) {
            return { sum: add(event.a, event.b), product: multiply(event.a, event.b) };
        }
    `);
    // ---- end of spec ----

    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', { a: 3, b: 4 })).toEqual({ sum: 7, product: 12 });
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('Inter-Module Dependencies (any registration order)', async () => {
    const proto = await new SandboxBuilder().build();
    const sandbox = await proto.loadRuntime();

    // ---- spec ----
    // Register in any order — dependencies are resolved automatically
    sandbox.addModule('geometry', `
        import { PI } from 'user:constants';
        export function circleArea(r) { return PI * r * r; }
    `);

    sandbox.addModule('constants', `
        export const PI = 3.14159;
    `);
    // ---- end of spec ----

    sandbox.addHandler('handler', `
      import { circleArea } from 'user:geometry';
      function handler(event) { return circleArea(event.r); }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', { r: 2 })).toBeCloseTo(12.56636, 10);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('State Retention', async () => {
    const proto = await new SandboxBuilder().build();
    const sandbox = await proto.loadRuntime();

    // ---- spec ----
    sandbox.addModule('counter', `
        let count = 0;
        export function increment() { return ++count; }
    `);
    // First call → 1, second call → 2, etc.
    // ---- end of spec ----

    sandbox.addHandler('handler', `
      import { increment } from 'user:counter';
      function handler() { return increment(); }
    `);
    const loaded = await sandbox.getLoadedSandbox();
    expect(await loaded.callHandler('handler', {})).toBe(1);
    expect(await loaded.callHandler('handler', {})).toBe(2);
    expect(await loaded.callHandler('handler', {})).toBe(3);
    await loaded[Symbol.asyncDispose]();
  });

  // biome-ignore format: verbatim spec snippet
  it('Shared State Between Handlers', async () => {
    const proto = await new SandboxBuilder().build();
    const sandbox = await proto.loadRuntime();
    // ---- spec ----
    // Shared mutable state module
    sandbox.addModule('counter', `
        let count = 0;
        export function increment() { return ++count; }
        export function getCount() { return count; }
    `);

    // Handler A: mutates state
    sandbox.addHandler('writer', `
        import { increment } from 'user:counter';
        function handler(event) {
            event.count = increment();
            return event;
        }
    `);

    // Handler B: reads state (does NOT call increment)
    sandbox.addHandler('reader', `
        import { getCount } from 'user:counter';
        function handler(event) {
            event.count = getCount();
            return event;
        }
    `);

    const loaded = await sandbox.getLoadedSandbox();
    const calls = vi.spyOn(loaded, 'callHandler'); // (test)

    await loaded.callHandler('writer', {});  // → { count: 1 }
    await loaded.callHandler('reader', {});  // → { count: 1 } — sees writer's mutation
    await loaded.callHandler('writer', {});  // → { count: 2 }
    await loaded.callHandler('reader', {});  // → { count: 2 } — sees updated state
    // ---- end of spec ----

    expect(await Promise.all(calls.mock.results.map((r) => r.value))).toEqual([
      { count: 1 },
      { count: 1 },
      { count: 2 },
      { count: 2 },
    ]);
    await loaded[Symbol.asyncDispose]();
  });
});
