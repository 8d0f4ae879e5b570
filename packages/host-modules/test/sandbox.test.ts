import { type LoadedJSSandbox, SandboxBuilder } from '@hyperlight/js-host-api';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineHostModule,
  type HostModuleDefinition,
  hostFunction,
  installHostModules,
} from '../src/index';

// Host modules installed on real micro-VMs: what the guest sees.

const open: LoadedJSSandbox[] = [];
afterEach(async () => {
  for (const loaded of open.splice(0)) await loaded[Symbol.asyncDispose]();
});

async function load(modules: HostModuleDefinition[], handler: string): Promise<LoadedJSSandbox> {
  const proto = await new SandboxBuilder().build();
  installHostModules(proto, modules);
  const sandbox = await proto.loadRuntime();
  sandbox.addHandler('handler', handler);
  const loaded = await sandbox.getLoadedSandbox();
  open.push(loaded);
  return loaded;
}

const users = new Map([['u1', { name: 'Ada', born: new Date(Date.UTC(1815, 11, 10)) }]]);
const db = defineHostModule(
  'db',
  {
    get: hostFunction({
      args: [z.string()],
      handler: async (id) => users.get(id) ?? null,
    }),
    put: hostFunction({
      args: [z.string().min(2), z.object({ name: z.string(), age: z.number().int() })],
      handler: (id, user) => {
        users.set(id, { name: user.name, born: new Date(0) });
        return true;
      },
    }),
    hang: hostFunction({ args: [], timeoutMs: 50, handler: () => new Promise(() => {}) }),
    fail: () => {
      throw new Error('the database is down');
    },
  },
  { timeoutMs: 5_000 },
);

const HANDLER = `
  import * as db from 'host:db';
  function attempt(f) {
    try { return { ok: f() }; } catch (e) { return { name: e.name, message: e.message }; }
  }
  function handler(event) {
    return {
      found: attempt(() => db.get('u1')),
      missing: attempt(() => db.get('nobody')),
      wrongType: attempt(() => db.get(1)),
      badUser: attempt(() => db.put('x', { name: 7, age: 1.5 })),
      tooMany: attempt(() => db.get('u1', 'extra')),
      timedOut: attempt(() => db.hang()),
      failed: attempt(() => db.fail()),
    };
  }
`;

describe('host modules in a micro-VM', () => {
  it('the guest gets results, and catchable errors listing the issues', async () => {
    const loaded = await load([db], HANDLER);
    type Caught = { name: string; message: string };
    type Result = Record<'found' | 'missing', unknown> &
      Record<'wrongType' | 'badUser' | 'tooMany' | 'timedOut' | 'failed', Caught>;
    const result = await loaded.callHandler<Result>('handler', {});
    expect(result.found).toEqual({ ok: { name: 'Ada', born: '1815-12-10T00:00:00.000Z' } });
    expect(result.missing).toEqual({ ok: null });
    expect(result.wrongType.name).toBe('Error');
    expect(result.wrongType.message).toMatch(
      /^host:db\.get: 1 invalid argument \(ERR_HOST_ARGUMENTS\)\n {2}arguments\[0\]: .*expected string/,
    );
    expect(result.badUser.message).toMatch(
      /^host:db\.put: 3 invalid arguments \(ERR_HOST_ARGUMENTS\)/,
    );
    expect(result.badUser.message).toContain('\n  arguments[0]: ');
    expect(result.badUser.message).toContain('\n  arguments[1].name: ');
    expect(result.badUser.message).toContain('\n  arguments[1].age: ');
    expect(users.has('x')).toBe(false);
    expect(result.tooMany.message).toBe(
      'host:db.get: expected at most 1 argument, got 2 (ERR_HOST_ARGUMENTS)',
    );
    expect(result.timedOut.message).toBe(
      'host:db.hang: did not finish within 50 ms (ERR_HOST_TIMEOUT)',
    );
    expect(result.failed).toEqual({ name: 'Error', message: 'the database is down' });
    // The sandbox is still healthy after every failure.
    expect(loaded.poisoned).toBe(false);
    type Found = { found: { ok: { name: string } } };
    expect((await loaded.callHandler<Found>('handler', {})).found.ok.name).toBe('Ada');
  });

  it('an uncaught validation error is the handler’s error (ERR_HANDLER) with the issues', async () => {
    const loaded = await load(
      [db],
      `import { put } from 'host:db'; function handler() { return put('id', { name: 'x' }); }`,
    );
    const error = await loaded.callHandler('handler', {}).then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: Error & { code: string; guestMessage: string }) => e,
    );
    expect(error.code).toBe('ERR_HANDLER');
    expect(error.guestMessage).toContain('host:db.put: 1 invalid argument (ERR_HOST_ARGUMENTS)');
    expect(error.guestMessage).toContain('arguments[1].age: ');
  });

  it('one module value installs on several sandboxes', async () => {
    const counter = { n: 0 };
    const m = defineHostModule('count', { hit: () => ++counter.n });
    const a = await load(
      [m],
      `import { hit } from 'host:count'; function handler() { return hit(); }`,
    );
    const b = await load(
      [m],
      `import { hit } from 'host:count'; function handler() { return hit(); }`,
    );
    expect(await a.callHandler('handler', {})).toBe(1);
    expect(await b.callHandler('handler', {})).toBe(2);
  });

  it('installing the same module twice on one sandbox is the binding’s ERR_INVALID_ARG', async () => {
    const proto = await new SandboxBuilder().build();
    db.install(proto);
    let error: (Error & { code?: string }) | undefined;
    try {
      db.install(proto);
    } catch (e) {
      error = e as Error & { code?: string };
    }
    expect(error?.code).toBe('ERR_INVALID_ARG');
    await proto[Symbol.asyncDispose]();
  });
});
