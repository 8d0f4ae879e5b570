import { type } from 'arktype';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  defineHostModule,
  type GuestModule,
  HostCallError,
  HostModuleDefinitionError,
  hostFunction,
  installHostModules,
  type Jsonified,
} from '../src/index';

/** The rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<HostCallError> {
  try {
    await promise;
  } catch (error) {
    return error as HostCallError;
  }
  throw new Error('expected a rejection');
}

function definitionError(f: () => unknown): HostModuleDefinitionError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(HostModuleDefinitionError);
    expect((error as HostModuleDefinitionError).code).toBe('ERR_INVALID_ARG');
    return error as HostModuleDefinitionError;
  }
  throw new Error('expected a throw');
}

const User = z.object({ name: z.string().min(1), email: z.email() });

describe('hostFunction argument validation', () => {
  const seen: unknown[][] = [];
  const db = defineHostModule('db', {
    put: hostFunction({
      args: [z.string(), User],
      handler: (id, user, ctx) => {
        seen.push([id, user, ctx.module, ctx.function]);
        return { id, ...user };
      },
    }),
    find: hostFunction({
      args: [v.string(), v.optional(v.number())],
      handler: (name, limit) => ({ name, limit: limit ?? 10 }),
    }),
    tag: hostFunction({
      args: [type({ tag: 'string', 'weight?': 'number' })],
      handler: (t) => t.tag,
    }),
    trimmed: hostFunction({ args: [z.string().trim()], handler: (s) => s }),
  });

  it('runs the implementation with valid arguments (zod)', async () => {
    expect(await db.invoke('put', ['u1', { name: 'Ada', email: 'ada@example.com' }])).toEqual({
      id: 'u1',
      name: 'Ada',
      email: 'ada@example.com',
    });
    expect(seen.at(-1)).toEqual(['u1', { name: 'Ada', email: 'ada@example.com' }, 'db', 'put']);
  });

  it('passes the schemas’ outputs (transforms apply)', async () => {
    expect(await db.invoke('trimmed', ['  x  '])).toBe('x');
  });

  it('lists every issue with its argument path, and never runs the implementation', async () => {
    const before = seen.length;
    const error = await rejection(db.invoke('put', [1, { name: '', email: 'nope' }]));
    expect(error).toBeInstanceOf(HostCallError);
    expect(error.code).toBe('ERR_HOST_ARGUMENTS');
    expect(error.function).toBe('host:db.put');
    expect(error.issues.map((i) => i.path)).toEqual([[0], [1, 'name'], [1, 'email']]);
    expect(error.message).toMatch(/^host:db\.put: 3 invalid arguments \(ERR_HOST_ARGUMENTS\)\n/);
    expect(error.message).toContain('\n  arguments[0]: ');
    expect(error.message).toContain('\n  arguments[1].name: ');
    expect(error.message).toContain('\n  arguments[1].email: ');
    expect(seen.length).toBe(before);
  });

  it('validates with valibot (optional trailing argument may be left out)', async () => {
    expect(await db.invoke('find', ['ada'])).toEqual({ name: 'ada', limit: 10 });
    const error = await rejection(db.invoke('find', ['ada', 'ten']));
    expect(error.code).toBe('ERR_HOST_ARGUMENTS');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.path).toEqual([1]);
    expect(error.message).toContain('arguments[1]: Invalid type: Expected number');
  });

  it('validates with arktype', async () => {
    expect(await db.invoke('tag', [{ tag: 'x' }])).toBe('x');
    const error = await rejection(db.invoke('tag', [{ tag: 1, weight: 'heavy' }]));
    expect(error.code).toBe('ERR_HOST_ARGUMENTS');
    expect(error.issues.map((i) => i.path)).toEqual([
      [0, 'tag'],
      [0, 'weight'],
    ]);
  });

  it('refuses more arguments than schemas', async () => {
    const error = await rejection(db.invoke('trimmed', ['a', 'b']));
    expect(error.code).toBe('ERR_HOST_ARGUMENTS');
    expect(error.message).toBe(
      'host:db.trimmed: expected at most 1 argument, got 2 (ERR_HOST_ARGUMENTS)',
    );
  });

  it('awaits asynchronous schemas', async () => {
    const async = defineHostModule('a', {
      f: hostFunction({
        args: [z.string().refine(async (s) => s !== 'taken', 'already taken')],
        handler: (s) => s,
      }),
    });
    expect(await async.invoke('f', ['free'])).toBe('free');
    const error = await rejection(async.invoke('f', ['taken']));
    expect(error.message).toContain('arguments[0]: already taken');
  });

  it('quotes path keys that are not identifiers', async () => {
    const m = defineHostModule('m', {
      f: hostFunction({ args: [z.object({ 'a-b': z.array(z.number()) })], handler: () => 1 }),
    });
    const error = await rejection(m.invoke('f', [{ 'a-b': [1, 'x'] }]));
    expect(error.issues[0]?.path).toEqual([0, 'a-b', 1]);
    expect(error.message).toContain('arguments[0]["a-b"][1]: ');
  });

  it('rejects an unknown function name in invoke()', async () => {
    const error = await rejection(db.invoke('nope' as 'put', []));
    expect(error).toBeInstanceOf(HostModuleDefinitionError);
  });
});

describe('results', () => {
  it('validates the result with `returns`: a bad result is ERR_HOST_RESULT', async () => {
    const m = defineHostModule('m', {
      good: hostFunction({ args: [], returns: z.number(), handler: () => 1 }),
      bad: hostFunction({
        args: [],
        returns: z.number(),
        handler: () => 'one' as unknown as number,
      }),
    });
    expect(await m.invoke('good', [])).toBe(1);
    const error = await rejection(m.invoke('bad', []));
    expect(error.code).toBe('ERR_HOST_RESULT');
    expect(error.issues[0]?.path).toEqual(['result']);
    expect(error.message).toMatch(
      /^host:m\.bad: the result failed its schema \(ERR_HOST_RESULT\)\n {2}result: /,
    );
  });

  it('passes an implementation error through unchanged', async () => {
    const m = defineHostModule('m', {
      f: hostFunction({
        args: [],
        handler: () => {
          throw new Error('no such user');
        },
      }),
      plain: async () => {
        throw new RangeError('plain failed');
      },
    });
    expect((await rejection(m.invoke('f', []))).message).toBe('no such user');
    expect((await rejection(m.invoke('plain', []))).message).toBe('plain failed');
  });

  it('plain functions get the arguments as sent', async () => {
    const m = defineHostModule('m', { add: (a: number, b: number) => a + b });
    expect(await m.invoke('add', [2, 3])).toBe(5);
  });
});

describe('timeouts', () => {
  it('rejects with ERR_HOST_TIMEOUT and aborts the context signal', async () => {
    let signal: AbortSignal | undefined;
    const m = defineHostModule('slow', {
      wait: hostFunction({
        args: [],
        timeoutMs: 20,
        handler: (ctx) => {
          signal = ctx.signal;
          return new Promise(() => {});
        },
      }),
    });
    const error = await rejection(m.invoke('wait', []));
    expect(error.code).toBe('ERR_HOST_TIMEOUT');
    expect(error.message).toBe('host:slow.wait: did not finish within 20 ms (ERR_HOST_TIMEOUT)');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
  });

  it('applies the module default to plain functions and hostFunctions; a function’s own wins', async () => {
    const m = defineHostModule(
      'slow',
      {
        plain: () => new Promise(() => {}),
        own: hostFunction({
          args: [],
          timeoutMs: 5_000,
          handler: () => new Promise((resolve) => setTimeout(() => resolve('done'), 60)),
        }),
      },
      { timeoutMs: 30 },
    );
    expect((await rejection(m.invoke('plain', []))).code).toBe('ERR_HOST_TIMEOUT');
    expect(await m.invoke('own', [])).toBe('done');
  });

  it('does not abort the signal of a call that finished in time', async () => {
    let signal: AbortSignal | undefined;
    const m = defineHostModule('fast', {
      f: hostFunction({
        args: [],
        timeoutMs: 1_000,
        handler: (ctx) => {
          signal = ctx.signal;
          return 'ok';
        },
      }),
    });
    expect(await m.invoke('f', [])).toBe('ok');
    expect(signal?.aborted).toBe(false);
  });
});

describe('definition errors (ERR_INVALID_ARG)', () => {
  const f = () => 1;
  it.each([
    ['', 'the module name'],
    ['has space', 'the module name'],
    ['a:b', 'the module name'],
    ['a/b', 'the module name'],
    ['-x', 'the module name'],
    ['x'.repeat(257), 'the module name'],
    [42, 'the module name'],
  ])('module name %j', (name, what) => {
    expect(definitionError(() => defineHostModule(name as string, { f })).message).toContain(what);
  });

  it('function names must be identifier names other than default', () => {
    expect(definitionError(() => defineHostModule('m', { 'a-b': f })).message).toContain(
      'the function name must be a JavaScript identifier name',
    );
    expect(defineHostModule('m', { delete: f }).name).toBe('m');
    definitionError(() => defineHostModule('m', { default: f }));
    definitionError(() => defineHostModule('m', { '1x': f }));
  });

  it('entries must be functions or hostFunction()s; at least one', () => {
    expect(definitionError(() => defineHostModule('m', { f: 1 as never })).message).toContain(
      'f must be a function or a hostFunction({...}), got 1',
    );
    definitionError(() => defineHostModule('m', { f: { spec: {} } as never }));
    expect(definitionError(() => defineHostModule('m', {})).message).toContain(
      'needs at least one function',
    );
    definitionError(() => defineHostModule('m', null as never));
    definitionError(() => defineHostModule('m', [f] as never));
  });

  it('module options', () => {
    definitionError(() => defineHostModule('m', { f }, { timeoutMs: 0 }));
    definitionError(() => defineHostModule('m', { f }, { timeoutMs: 1.5 }));
    definitionError(() => defineHostModule('m', { f }, { timeoutMs: 2 ** 31 }));
    expect(
      definitionError(() => defineHostModule('m', { f }, { timeout: 5 } as never)).message,
    ).toContain('unknown option "timeout"');
    definitionError(() => defineHostModule('m', { f }, null as never));
  });

  it('hostFunction specs', () => {
    const handler = () => 1;
    definitionError(() => hostFunction(null as never));
    expect(definitionError(() => hostFunction({ args: z.string() } as never)).message).toContain(
      'args must be an array of Standard Schemas',
    );
    expect(
      definitionError(() => hostFunction({ args: [{ parse() {} }], handler } as never)).message,
    ).toContain('args[0] is not a Standard Schema');
    definitionError(() => hostFunction({ args: [], returns: {}, handler } as never));
    definitionError(() => hostFunction({ args: [], timeoutMs: -1, handler }));
    definitionError(() => hostFunction({ args: [z.string()], params: ['a', 'b'], handler }));
    definitionError(() => hostFunction({ args: [z.string()], params: ['not valid'], handler }));
    definitionError(() => hostFunction({ args: [], description: 1, handler } as never));
    expect(definitionError(() => hostFunction({ args: [] } as never)).message).toContain(
      'handler must be a function',
    );
    expect(
      definitionError(() => hostFunction({ args: [], handler, timeout: 1 } as never)).message,
    ).toContain('unknown option "timeout"');
  });

  it('install() needs a ProtoJSSandbox; installHostModules refuses duplicate names', () => {
    const m = defineHostModule('m', { f });
    definitionError(() => m.install({} as never));
    const registered: string[] = [];
    const proto = {
      hostModule: (name: string) => ({
        register(fname: string) {
          registered.push(`${name}.${fname}`);
          return this;
        },
      }),
    };
    expect(
      definitionError(() =>
        installHostModules(proto as never, [m, defineHostModule('m', { g: f })]),
      ).message,
    ).toContain('two host modules are named "m"');
    expect(registered).toEqual([]);
  });
});

describe('guest types', () => {
  interface User {
    name: string;
    born: Date;
    nickname?: string;
    save(): void;
  }
  const db = defineHostModule('db', {
    get: hostFunction({
      args: [z.string()],
      handler: async (_id: string): Promise<User> => ({ name: 'a', born: new Date(0), save() {} }),
    }),
    put: hostFunction({
      args: [z.string(), z.number().optional()],
      handler: async () => undefined,
    }),
    parse: hostFunction({ args: [z.string().transform((s) => s.length)], handler: (n) => n }),
    add: (a: number, b: number) => a + b,
  });
  type Db = GuestModule<typeof db>;

  it('is synchronous, with the schemas’ input types and JSON results', () => {
    expectTypeOf<Db['get']>().toEqualTypeOf<
      (arg: string) => { name: string; born: string; nickname?: string }
    >();
    expectTypeOf<Db['put']>().parameters.toEqualTypeOf<[string, (number | undefined)?]>();
    expectTypeOf<Db['put']>().returns.toEqualTypeOf<null>();
    expectTypeOf<Db['parse']>().parameters.toEqualTypeOf<[string]>();
    expectTypeOf<Db['parse']>().returns.toEqualTypeOf<number>();
    expectTypeOf<Db['add']>().toEqualTypeOf<(a: number, b: number) => number>();
    // A guest calling db.get(1) against a string parameter fails type checking.
    // @ts-expect-error the argument must be a string
    const call = (guest: Db) => guest.get(1);
    expect(typeof call).toBe('function');
  });

  it('Jsonified follows JSON.stringify', () => {
    expectTypeOf<Jsonified<undefined>>().toEqualTypeOf<null>();
    expectTypeOf<Jsonified<Date>>().toEqualTypeOf<string>();
    expectTypeOf<Jsonified<[1, undefined, () => void]>>().toEqualTypeOf<[1, null, null]>();
    expectTypeOf<
      Jsonified<{ a: number; b: undefined; c?: string; f: () => void }>
    >().toEqualTypeOf<{
      a: number;
      c?: string;
    }>();
    expectTypeOf<Jsonified<unknown>>().toEqualTypeOf<unknown>();
    // The types above are checked by `pnpm run typecheck`; at run time, JSON.stringify does what
    // they model.
    const through = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
    expect(through({ d: new Date(0) })).toStrictEqual({ d: '1970-01-01T00:00:00.000Z' });
    expect(through([1, undefined, () => {}])).toStrictEqual([1, null, null]);
    expect(through({ a: 1, b: undefined, c: 'x', f: () => {} })).toStrictEqual({ a: 1, c: 'x' });
    expect(through({ u: [undefined] })).toStrictEqual({ u: [null] });
  });
});
