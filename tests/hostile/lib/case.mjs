// Runs one case in this (child) process: `node case.mjs <file> <name>`.
//
// Beside the case, a second sandbox (the neighbour) is pinged every 50 ms;
// the case passes only if every ping answered correctly, so a hostile guest
// that disturbs another sandbox fails. Prints HOSTILE-CASE-PASSED on
// success and exits; any throw fails the case with its stack.
import strictAssert from 'node:assert/strict';

import * as api from '@hyperlight/js-host-api';

import { loadCase } from './cases.mjs';

const [file, name] = process.argv.slice(2);

/**
 * `node:assert/strict`, counting the assertions the case makes (directly, or through `rejects`
 * and `throws`): a case that asserts nothing fails, like a vitest test (`expect.hasAssertions()`).
 */
let assertions = 0;
const assert = new Proxy(strictAssert, {
  apply(target, self, args) {
    assertions++;
    return Reflect.apply(target, self, args);
  },
  get(target, key, receiver) {
    const value = Reflect.get(target, key, receiver);
    if (typeof value !== 'function' || key === 'AssertionError') return value;
    return (...args) => {
      assertions++;
      return value.apply(target, args);
    };
  },
});

/** Builds a loaded sandbox with `handlers` (key → source), optional setup of the proto and builder. */
async function load(handlers, { builder, proto: setupProto, modules, loadOptions } = {}) {
  // The cases were written against a 16 MiB heap (out-of-memory cases fill it).
  const b = new api.SandboxBuilder().setHeapSize(16 * 1024 * 1024);
  builder?.(b);
  const proto = await b.build();
  setupProto?.(proto);
  const sandbox = await proto.loadRuntime();
  for (const [n, src] of Object.entries(modules ?? {})) sandbox.addModule(n, src);
  for (const [k, src] of Object.entries(handlers)) sandbox.addHandler(k, src);
  return sandbox.getLoadedSandbox(loadOptions);
}

/** The rejection of `promise`, which must carry `code` (a string or a list of accepted codes). */
async function rejects(promise, code) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected a rejection with ${code}, but it resolved`);
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(
    codes.includes(error.code),
    `expected ${codes.join(' or ')}, got ${error.code}: ${error.message}`,
  );
  return error;
}

/** The synchronous throw of `f`, which must carry `code`. */
function throws(f, code) {
  let error;
  try {
    f();
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected a throw with ${code}`);
  assert.equal(error.code, code, `${error.code}: ${error.message}`);
  return error;
}

/** Kills the call running in `loaded` once one runs (a kill with nothing running does nothing). */
function killWhenRunning(loaded, afterMs = 20) {
  let stop = false;
  const tick = () => {
    if (stop) return;
    if (loaded.interruptHandle.kill() === true) return;
    setTimeout(tick, 2);
  };
  setTimeout(tick, afterMs);
  return () => {
    stop = true;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function note(msg) {
  console.log(`note: ${msg}`);
}

const t = { api, assert, load, rejects, throws, killWhenRunning, sleep, note };

async function main() {
  const def = await loadCase(file, name);
  const neighbour = await load({ ping: 'function handler(e) { return e + 1; }' });
  let pings = 0;
  let pingError;
  let stopped = false;
  const pinger = (async () => {
    while (!stopped) {
      try {
        const r = await neighbour.callHandler('ping', pings, { wallClockTimeoutMs: 60_000 });
        if (r !== pings + 1) throw new Error(`the neighbour answered ${r} to ${pings}`);
        pings++;
      } catch (e) {
        pingError = e;
        return;
      }
      await sleep(50);
    }
  })();
  await def.run(t);
  if (assertions === 0) throw new Error('the case asserted nothing');
  stopped = true;
  await pinger;
  if (pingError)
    throw new Error(`the neighbour sandbox was disturbed: ${pingError.stack ?? pingError}`);
  assert.ok(pings > 0, 'the neighbour sandbox never answered');
  console.log('HOSTILE-CASE-PASSED');
  process.exit(0);
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
