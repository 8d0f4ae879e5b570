import { SandboxBuilder } from '@hyperlight/js-host-api';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  consoleLogger,
  envModule,
  type GuestModule,
  type HostCallError,
  HostModuleDefinitionError,
  installHostModules,
  type JsonValue,
  type KvStore,
  kvModule,
  logModule,
  type StructuredLogger,
} from '../src/index';

async function rejection(promise: Promise<unknown>): Promise<HostCallError> {
  try {
    await promise;
  } catch (error) {
    return error as HostCallError;
  }
  throw new Error('expected a rejection');
}

/** A logger that keeps its records. */
function memoryLogger() {
  const records: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const logger = Object.fromEntries(
    (['debug', 'info', 'warn', 'error'] as const).map((level) => [
      level,
      (fields: Record<string, unknown>, message: string) =>
        records.push({ level, fields, message }),
    ]),
  ) as unknown as StructuredLogger;
  return { logger, records };
}

describe('kvModule', () => {
  it('get/set/delete/list over a Map', async () => {
    const map = new Map<string, JsonValue>([['a:1', 1]]);
    const kv = kvModule({ store: map });
    expect(await kv.invoke('get', ['a:1'])).toBe(1);
    expect(await kv.invoke('get', ['missing'])).toBeNull();
    expect(await kv.invoke('set', ['a:2', { deep: [true] }])).toBeUndefined();
    expect(map.get('a:2')).toEqual({ deep: [true] });
    await kv.invoke('set', ['b', null]);
    expect(await kv.invoke('list', ['a:'])).toEqual(['a:1', 'a:2']);
    expect(await kv.invoke('list', [])).toEqual(['a:1', 'a:2', 'b']);
    expect(await kv.invoke('list', ['', 2])).toEqual(['a:1', 'a:2']);
    expect(await kv.invoke('delete', ['a:1'])).toBe(true);
    expect(await kv.invoke('delete', ['a:1'])).toBe(false);
  });

  it('limits keys, values and entries (ERR_HOST_LIMIT), and list sizes', async () => {
    const kv = kvModule({ maxKeyBytes: 4, maxValueBytes: 10, maxEntries: 2, maxListKeys: 1 });
    expect((await rejection(kv.invoke('get', ['ééé']))).message).toBe(
      'host:kv.get: the key is 6 bytes, more than 4 (ERR_HOST_LIMIT)',
    );
    expect((await rejection(kv.invoke('set', ['k', 'x'.repeat(9)]))).message).toBe(
      'host:kv.set: the value is 11 bytes, more than 10 (ERR_HOST_LIMIT)',
    );
    await kv.invoke('set', ['k1', 1]);
    await kv.invoke('set', ['k2', 2]);
    await kv.invoke('set', ['k1', 3]); // an existing key is not a new entry
    const full = await rejection(kv.invoke('set', ['k3', 3]));
    expect(full.code).toBe('ERR_HOST_LIMIT');
    expect(full.message).toContain('the store holds 2 entries already');
    expect(await kv.invoke('list', ['', 50])).toEqual(['k1']);
  });

  it('validates arguments (ERR_HOST_ARGUMENTS)', async () => {
    const kv = kvModule();
    expect((await rejection(kv.invoke('get', [1]))).code).toBe('ERR_HOST_ARGUMENTS');
    expect((await rejection(kv.invoke('get', ['']))).message).toContain('the key is empty');
    expect((await rejection(kv.invoke('set', ['k']))).message).toContain('expected a JSON value');
    expect((await rejection(kv.invoke('list', [1, 0]))).issues.map((i) => i.path)).toEqual([
      [0],
      [1],
    ]);
  });

  it('readOnly refuses writes (ERR_HOST_DENIED)', async () => {
    const kv = kvModule({ store: new Map([['k', 1]]), readOnly: true });
    expect(await kv.invoke('get', ['k'])).toBe(1);
    expect((await rejection(kv.invoke('set', ['k', 2]))).code).toBe('ERR_HOST_DENIED');
    expect((await rejection(kv.invoke('delete', ['k']))).message).toBe(
      'host:kv.delete: the store is read-only (ERR_HOST_DENIED)',
    );
  });

  it('uses an async store; a slow store times out', async () => {
    const data = new Map<string, JsonValue>();
    const store: KvStore = {
      get: async (k) => data.get(k),
      set: async (k, v) => {
        data.set(k, v);
      },
      delete: async (k) => data.delete(k),
      list: async (p, n) => [...data.keys()].filter((k) => k.startsWith(p)).slice(0, n),
    };
    const kv = kvModule({ store });
    await kv.invoke('set', ['x', [1, 2]]);
    expect(await kv.invoke('get', ['x'])).toEqual([1, 2]);
    const slow = kvModule({ store: { ...store, get: () => new Promise(() => {}) }, timeoutMs: 30 });
    expect((await rejection(slow.invoke('get', ['x']))).code).toBe('ERR_HOST_TIMEOUT');
  });

  it.each([
    [{ store: {} }],
    [{ store: 'redis' }],
    [{ maxKeyBytes: 0 }],
    [{ maxValueBytes: 1.5 }],
    [{ readOnly: 'yes' }],
    [{ ttl: 5 }],
    [null],
  ])('refuses the options %j', (options) => {
    expect(() => kvModule(options as never)).toThrow(HostModuleDefinitionError);
  });
});

describe('logModule', () => {
  it('writes structured records with the fixed fields, which the guest cannot override', async () => {
    const { logger, records } = memoryLogger();
    const log = logModule({ logger, fields: { tenant: 'acme' } });
    expect(await log.invoke('info', ['charged', { amount: 42, tenant: 'evil' }])).toBe(true);
    expect(await log.invoke('error', ['plain'])).toBe(true);
    expect(records).toEqual([
      { level: 'info', fields: { amount: 42, tenant: 'acme' }, message: 'charged' },
      { level: 'error', fields: { tenant: 'acme' }, message: 'plain' },
    ]);
  });

  it('drops records below the level, too large, or over the per-call volume; beginCall resets', async () => {
    const { logger, records } = memoryLogger();
    const log = logModule({
      logger,
      level: 'info',
      maxRecordBytes: 20,
      maxRecordsPerCall: 2,
      maxBytesPerCall: 30,
    });
    expect(await log.invoke('debug', ['quiet'])).toBe(false);
    expect(await log.invoke('info', ['x'.repeat(21)])).toBe(false);
    expect(await log.invoke('info', ['one'])).toBe(true);
    expect(await log.invoke('warn', ['two'])).toBe(true);
    expect(await log.invoke('warn', ['three'])).toBe(false);
    expect(log.stats).toEqual({ records: 2, bytes: 6, dropped: 2 });
    // One warning record when the first record is dropped, not one per drop.
    const warnings = records.filter((r) => r.message.startsWith('guest log records dropped'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.fields).toMatchObject({
      module: 'host:log',
      reason: 'a record of 21 bytes is over 20',
    });
    log.beginCall();
    expect(log.stats).toEqual({ records: 0, bytes: 0, dropped: 0 });
    expect(await log.invoke('info', ['x'.repeat(18)])).toBe(true);
    expect(await log.invoke('info', ['x'.repeat(18)])).toBe(false); // 36 bytes > 30 per call
  });

  it('beginCall(call) tags the records of the call with handler and callId', async () => {
    const { logger, records } = memoryLogger();
    const log = logModule({ logger });
    log.beginCall({ handler: 'charge', callId: 7 });
    expect(await log.invoke('info', ['one', { handler: 'forged' }])).toBe(true);
    log.beginCall();
    expect(await log.invoke('info', ['two'])).toBe(true);
    expect(records.map((r) => [r.message, r.fields])).toEqual([
      ['one', { handler: 'charge', callId: 7 }],
      ['two', {}],
    ]);
    expect(() => log.beginCall({ callId: 1 } as never)).toThrow(HostModuleDefinitionError);
  });

  it('consoleLogger writes message then fields', () => {
    const lines: unknown[][] = [];
    const target = {
      debug: (...a: unknown[]) => lines.push(a),
      info: (...a: unknown[]) => lines.push(a),
      warn: (...a: unknown[]) => lines.push(a),
      error: (...a: unknown[]) => lines.push(a),
    };
    consoleLogger(target).warn({ a: 1 }, 'm');
    expect(lines).toEqual([['m', { a: 1 }]]);
  });

  it('validates arguments', async () => {
    const log = logModule({ logger: memoryLogger().logger });
    expect((await rejection(log.invoke('info', [1]))).code).toBe('ERR_HOST_ARGUMENTS');
    expect((await rejection(log.invoke('info', ['m', [1]]))).message).toContain(
      'expected an object of fields',
    );
  });

  it.each([
    [{ logger: {} }],
    [{ logger: console, level: 'trace' }],
    [{ fields: [] }],
    [{ maxRecordsPerCall: 0 }],
    [{ sink: 1 }],
  ])('refuses the options %j', (options) => {
    expect(() => logModule(options as never)).toThrow(HostModuleDefinitionError);
  });
});

describe('envModule', () => {
  const env = envModule({ values: { REGION: 'eu', RETRIES: 3, DEBUG: false, EMPTY: null } });

  it('reads values; unknown names are null; keys are sorted', async () => {
    expect(await env.invoke('get', ['REGION'])).toBe('eu');
    expect(await env.invoke('get', ['RETRIES'])).toBe(3);
    expect(await env.invoke('get', ['PATH'])).toBeNull();
    expect(await env.invoke('get', ['toString'])).toBeNull();
    expect(await env.invoke('keys', [])).toEqual(['DEBUG', 'EMPTY', 'REGION', 'RETRIES']);
    expect((await rejection(env.invoke('get', [1]))).code).toBe('ERR_HOST_ARGUMENTS');
  });

  it('copies the values', async () => {
    const values: Record<string, string> = { A: '1' };
    const copy = envModule({ values });
    values.A = '2';
    expect(await copy.invoke('get', ['A'])).toBe('1');
  });

  it('types the guest view from the values', async () => {
    type Env = GuestModule<typeof env>;
    expectTypeOf<Parameters<Env['get']>>().toEqualTypeOf<
      ['REGION' | 'RETRIES' | 'DEBUG' | 'EMPTY']
    >();
    expectTypeOf<ReturnType<Env['get']>>().toEqualTypeOf<'eu' | 3 | false | null>();
    // The types above are checked by `pnpm run typecheck`; at run time, the values they name are
    // the ones a guest gets, falsy ones included.
    const got = await Promise.all(
      (['REGION', 'RETRIES', 'DEBUG', 'EMPTY'] as const).map((k) => env.invoke('get', [k])),
    );
    expect(got).toStrictEqual(['eu', 3, false, null]);
  });

  it.each([
    [{ values: { A: {} } }],
    [{ values: { A: Number.NaN } }],
    [{ values: [] }],
    [{}],
    [{ values: {}, x: 1 }],
  ])('refuses the options %j', (options) => {
    expect(() => envModule(options as never)).toThrow(HostModuleDefinitionError);
  });
});

describe('capability modules in a micro-VM', () => {
  it('kv, log and env work together from a guest', async () => {
    const { logger, records } = memoryLogger();
    const log = logModule({ logger });
    const store = new Map<string, JsonValue>();
    const proto = await new SandboxBuilder().build();
    installHostModules(proto, [
      kvModule({ store, maxValueBytes: 100 }),
      log,
      envModule({ values: { GREETING: 'hello' } }),
    ]);
    const sandbox = await proto.loadRuntime();
    sandbox.addHandler(
      'handler',
      `import * as kv from 'host:kv';
       import * as log from 'host:log';
       import { get } from 'host:env';
       function handler(event) {
         const visits = (kv.get('visits') ?? 0) + 1;
         kv.set('visits', visits);
         let tooBig;
         try { kv.set('big', 'x'.repeat(200)); } catch (e) { tooBig = e.message; }
         const logged = log.info(get('GREETING') + ' ' + event.name, { visits });
         return { visits, logged, tooBig, keys: kv.list() };
       }`,
    );
    const loaded = await sandbox.getLoadedSandbox();
    try {
      expect(await loaded.callHandler('handler', { name: 'Ada' })).toEqual({
        visits: 1,
        logged: true,
        tooBig: 'host:kv.set: the value is 202 bytes, more than 100 (ERR_HOST_LIMIT)',
        keys: ['visits'],
      });
      log.beginCall();
      expect(
        (await loaded.callHandler<{ visits: number }>('handler', { name: 'Bob' })).visits,
      ).toBe(2);
      expect(store.get('visits')).toBe(2);
      expect(records.map((r) => r.message)).toEqual(['hello Ada', 'hello Bob']);
      expect(records[1]?.fields).toEqual({ visits: 2 });
    } finally {
      await loaded[Symbol.asyncDispose]();
    }
  });
});
